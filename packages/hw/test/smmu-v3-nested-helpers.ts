/**
 * Shared set-up of the nested (STE.Config = 0b111) SMMUv3 tests: a stage-1 tree whose tables
 * stage 2 maps at IPAs unlike their PAs (so a walk can only succeed by translating every table
 * access through stage 2), a nested STE and CD, and the expected shape of a stage-2 fault of
 * class TT.
 */
import { CMD_TLBI_S2_IPA, EVT_CLASS_TT, SMMUV3_PRESET_FVP, type SmmuEvent, type WalkAccess } from '../src/index.js';
import { RAM, S1_PAGE, S2_PAGE, SmmuRig, Tables, cdWords, s2Fields, writeCd } from '../bench/smmu-v3-setup.js';

export const READ: WalkAccess = { write: false, exec: false, priv: false };
export const WRITE: WalkAccess = { write: true, exec: false, priv: false };
export const SID = 5;
export const ASID = 7;
export const VMID = 9;
export const IOVA = 2 ** 39 + 0x3_0000_0000; // 48-bit stage 1: levels 0..3
export const OUT_IPA = 2 ** 36; // where stage 1 sends IOVA
export const DATA = RAM + 0x800_0000;
export const DATA2 = RAM + 0x900_0000;
/** Stage-1 tables appear to the guest at TBL_IPA + (PA − RAM): no RAM sits at those addresses. */
export const TBL_IPA = 0x50_0000_0000;
export const ipaOf = (pa: number): number => pa - RAM + TBL_IPA;
export const paOf = (ipa: number): number => ipa - TBL_IPA + RAM;
export const CD_IPA = 0x60_0000_0000;

/** A 4K stage-1 tree whose table descriptors (and TTB) hold IPAs; stage 2 maps each table. */
export class S1Tree {
  readonly root: number;
  /** Tables below the root in creation order, with their level. */
  readonly tables: { pa: number; level: number }[] = [];
  constructor(
    private readonly rig: SmmuRig,
    private readonly s2: Tables,
    readonly bits: number,
    private readonly upper = false,
  ) {
    this.root = rig.alloc(4096);
    s2.mapRange(ipaOf(this.root), this.root, 1, S2_PAGE);
  }
  get startLevel(): number {
    return 4 - Math.ceil((this.bits - 12) / 9);
  }
  /** PA of the level-3 slot for `va` (creating tables, mapped by stage 2 unless `unmapped`). */
  leafAddr(va: number, unmapped = -1): number {
    const mem = this.rig.mem;
    let table = this.root;
    const v = this.upper ? va % 2 ** this.bits : va;
    for (let level = this.startLevel; ; level++) {
      const a = table + (Math.floor(v / 2 ** (12 + 9 * (3 - level))) % 512) * 8;
      if (level === 3) return a;
      let desc = mem.read64(a);
      if ((desc & 3n) !== 3n) {
        const t = this.rig.alloc(4096);
        this.tables.push({ pa: t, level: level + 1 });
        if (level + 1 !== unmapped) this.s2.mapRange(ipaOf(t), t, 1, S2_PAGE);
        desc = BigInt(ipaOf(t)) | 3n;
        mem.write64(a, desc);
      }
      table = paOf(Number(desc & 0x0000_ffff_ffff_f000n));
    }
  }
  map(va: number, ipa: number, attrs: bigint = S1_PAGE, unmapped = -1): number {
    const a = this.leafAddr(va, unmapped);
    this.rig.mem.write64(a, BigInt(ipa) | attrs);
    return a;
  }
}

export interface Nest {
  rig: SmmuRig;
  s2: Tables;
  s1: S1Tree;
  tr(iova: number, sid?: number): number | null;
  /** A write by the device (RnW = 0). */
  trw(iova: number): number | null;
  /** Event records written since the last call. */
  events(): SmmuEvent[];
}

export interface NestOptions {
  walkCache?: boolean;
  /** STE.S2R (default true). */
  s2r?: boolean;
  /** The FVP preset (HTTU = 2: access flag and dirty state) instead of QEMU's. */
  fvp?: boolean;
  /** Bits OR-ed into CD dword 0 (HA bit 43, HD bit 42). */
  cdDw0?: bigint;
  /** Bits OR-ed into STE dword 2 (S2HA bit 56, S2HD bit 55). */
  steDw2?: bigint;
}

export function nest(opts: NestOptions = {}): Nest {
  const rig = new SmmuRig(256 << 20, undefined, opts.walkCache ?? true, opts.fvp ? SMMUV3_PRESET_FVP : undefined);
  const s2 = new Tables(rig, 39);
  const s1 = new S1Tree(rig, s2, 48);
  const cdPa = rig.alloc(4096);
  s2.mapRange(CD_IPA, cdPa, 1, S2_PAGE);
  const cd = cdWords(ipaOf(s1.root), ASID, 48);
  cd[0] = cd[0]! | (opts.cdDw0 ?? 0n);
  writeCd(rig, cdPa, cd);
  writeNestedSte(rig, SID, s2, opts.s2r ?? true, opts.steDw2);
  let seen = 0;
  return {
    rig,
    s2,
    s1,
    tr(iova: number, sid = SID): number | null {
      const out = { pa: -1 };
      return rig.smmu.translate(sid, -1, iova, READ, out) ? out.pa : null;
    },
    trw(iova: number): number | null {
      const out = { pa: -1 };
      return rig.smmu.translate(SID, -1, iova, WRITE, out) ? out.pa : null;
    },
    events(): SmmuEvent[] {
      const all = rig.smmu.pendingEvents();
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    },
  };
}

/** Nested STE: the CD at CD_IPA, stage 2 as `s2Fields` (S2R = bit 58 of dw2). */
export function writeNestedSte(rig: SmmuRig, sid: number, s2: Tables, s2r: boolean, dw2Extra = 0n): void {
  const [base, dw3] = s2Fields(VMID, s2.root);
  const dw2 = base | dw2Extra;
  rig.writeSte(sid, [1n | (7n << 1n) | BigInt(CD_IPA), 2n | (1n << 2n) | (1n << 4n) | (3n << 6n), s2r ? dw2 : dw2 & ~(1n << 58n), dw3]);
}

export function s2Ipa(rig: SmmuRig, ipa: number, leaf = true): void {
  rig.cmd(CMD_TLBI_S2_IPA, BigInt(VMID) << 32n, BigInt(ipa) | (leaf ? 1n : 0n));
}

export const tt = (type: number, inputAddr: number, ipa: number): Partial<SmmuEvent> => ({
  type,
  sid: SID,
  ssv: false,
  s2: true,
  cls: EVT_CLASS_TT,
  ttrnw: true,
  rnw: true,
  pnu: false,
  ind: false,
  inputAddr,
  dw3: ipa - (ipa % 4096),
});

