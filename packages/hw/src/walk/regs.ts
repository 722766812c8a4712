/**
 * Walker configs from what Linux io-pgtable hands a driver: the register outputs as the golden
 * vectors spell them (`regs`: hex strings of decoded TCR/VTCR fields, MAIR, TRANSTAB, TTBR ...)
 * or the structurally equal io_pgtable_cfg output blocks. This plays the role of the IOMMU
 * driver that packs those fields into real registers, so the hardware walker can judge the
 * format's tables independently.
 *
 * Hardware choices made here, as Linux's drivers make them:
 *  - stage 1 uses TTBR0 (EPD1 set), or TTBR1 only (EPD0 set) with the ARM_TTBR1 quirk;
 *  - ARM_HD enables hardware access-flag and dirty-state management (as SMMUv3 CD.HA/HD);
 *  - ARM_S2FWB selects the FWB MemAttr interpretation;
 *  - v7s: SCTLR.AFE and TRE set (arm-smmu and the MediaTek M4U both use them), TTBCR from `tcr`;
 *    MTK_EXT (with NO_PERMS) selects the MediaTek PA extension, NO_PERMS disables permission
 *    and access-flag checks (the M4U ignores them).
 */
import type { LpaeWalkConfig } from './lpae.js';
import { lpae32S1Config, lpae32S2Config, lpaeS1Config, lpaeS2Config, maliConfig } from './lpae.js';
import type { V7sWalkConfig } from './v7s.js';
import { v7sConfig } from './v7s.js';

export type WalkConfigAny = LpaeWalkConfig | V7sWalkConfig;

/** A register value as the vectors write it ("0x1f"), or a number/bigint. */
export type RegValue = string | number | bigint;
export type IoPgtableRegs = Readonly<Record<string, RegValue | undefined>>;

/** io-pgtable quirk bits (include/linux/io-pgtable.h); only those the walker cares about. */
const QUIRK_BITS: Readonly<Record<string, number>> = {
  ARM_NS: 1 << 0,
  NO_PERMS: 1 << 1,
  ARM_MTK_EXT: 1 << 3,
  ARM_MTK_TTBR_EXT: 1 << 4,
  ARM_TTBR1: 1 << 5,
  ARM_OUTER_WBWA: 1 << 6,
  ARM_HD: 1 << 7,
  ARM_S2FWB: 1 << 8,
  NO_WARN: 1 << 9,
};

export interface FromRegsOptions {
  /** PA of the top-level table (the vectors omit it: S1 `ttbr`, S2 `vttbr`; Mali/v7s mask it off). */
  tableBase: number;
  /** Quirks as names (vector spelling, without IO_PGTABLE_QUIRK_) or the io-pgtable bit mask. */
  quirks?: readonly string[] | number;
  /** Override `regs.ias` / `regs.oas`. */
  ias?: number;
  oas?: number;
}

function quirkMask(q: readonly string[] | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  let m = 0;
  for (const name of q) {
    const bit = QUIRK_BITS[name.replace(/^IO_PGTABLE_QUIRK_/, '')];
    if (bit === undefined) throw new RangeError(`unknown io-pgtable quirk '${name}'`);
    m |= bit;
  }
  return m;
}

function big(regs: IoPgtableRegs, name: string): bigint {
  const v = regs[name];
  if (v === undefined) throw new RangeError(`register output '${name}' missing`);
  return typeof v === 'bigint' ? v : BigInt(v);
}

function num(regs: IoPgtableRegs, name: string): number {
  const b = big(regs, name);
  if (b < 0n || b > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`register output '${name}' is not a small value`);
  return Number(b);
}

/**
 * Builds a walker config for an io-pgtable format from its register outputs.
 * `format` is the io-pgtable format name ('ARM_64_LPAE_S1', ..., 'ARM_V7S').
 */
export function walkConfigFromIoPgtableRegs(format: string, regs: IoPgtableRegs, opts: FromRegsOptions): WalkConfigAny {
  const q = quirkMask(opts.quirks);
  const base = opts.tableBase;
  const ias = opts.ias ?? num(regs, 'ias');
  const oas = opts.oas ?? num(regs, 'oas');
  switch (format) {
    case 'ARM_64_LPAE_S1': {
      const tsz = num(regs, 'tcr_tsz');
      const tg = num(regs, 'tcr_tg');
      const common = { ips: num(regs, 'tcr_ips'), mair: big(regs, 'mair'), ha: (q & QUIRK_BITS.ARM_HD!) !== 0, hd: (q & QUIRK_BITS.ARM_HD!) !== 0 };
      return q & QUIRK_BITS.ARM_TTBR1!
        ? lpaeS1Config({ ...common, ttbr1: base, t1sz: tsz, tg1: tg, epd0: true })
        : lpaeS1Config({ ...common, ttbr0: base, t0sz: tsz, tg0: tg, epd1: true });
    }
    case 'ARM_64_LPAE_S2':
      return lpaeS2Config({
        vttbr: base,
        t0sz: num(regs, 'vtcr_tsz'),
        sl0: num(regs, 'vtcr_sl'),
        tg0: num(regs, 'vtcr_tg'),
        ps: num(regs, 'vtcr_ps'),
        fwb: (q & QUIRK_BITS.ARM_S2FWB!) !== 0,
      });
    case 'ARM_32_LPAE_S1': {
      // io-pgtable reports tsz = 64 − ias; the 32-bit TTBCR field is 32 − ias.
      const txsz = 32 - (64 - num(regs, 'tcr_tsz'));
      const mair = big(regs, 'mair');
      return q & QUIRK_BITS.ARM_TTBR1!
        ? lpae32S1Config({ ttbr1: base, t1sz: txsz, t0sz: txsz, epd0: true, mair })
        : lpae32S1Config({ ttbr0: base, t0sz: txsz, epd1: true, mair });
    }
    case 'ARM_32_LPAE_S2':
      // VTCR.T0SZ is signed: 32 − IPA bits (−8 for 40 bits).
      return lpae32S2Config({ vttbr: base, t0sz: 32 - (64 - num(regs, 'vtcr_tsz')), sl0: num(regs, 'vtcr_sl') });
    case 'ARM_MALI_LPAE': {
      const transtab = big(regs, 'transtab') | BigInt(base);
      return maliConfig({ transtab, memattr: big(regs, 'memattr'), vaBits: Math.min(48, ias), paBits: oas });
    }
    case 'ARM_V7S': {
      const mtk = (q & QUIRK_BITS.ARM_MTK_EXT!) !== 0;
      const tcr = num(regs, 'tcr');
      return v7sConfig({
        ttbr0: base,
        n: tcr & 7,
        pd0: (tcr & 0x10) !== 0,
        pd1: (tcr & 0x20) !== 0 || (tcr & 7) === 0,
        prrr: num(regs, 'prrr'),
        nmrr: num(regs, 'nmrr'),
        afe: true,
        tre: true,
        ias: Math.max(ias, 32),
        oaBits: mtk ? Math.min(40, Math.max(oas, 32)) : 40,
        mtkExt: mtk,
        mtkTtbrExt: mtk && (q & QUIRK_BITS.ARM_MTK_TTBR_EXT!) !== 0,
        noPerms: (q & QUIRK_BITS.NO_PERMS!) !== 0,
      });
    }
    default:
      throw new RangeError(`unknown io-pgtable format '${format}'`);
  }
}

/** The io_pgtable_cfg output blocks (structurally the same as @gki/io-pgtable-core's). */
export interface IoPgtableCfgLike {
  quirks: number;
  ias: number;
  oas: number;
  armLpaeS1Cfg?: { ttbr: bigint; tcr: { ips: number; tg: number; sh: number; orgn: number; irgn: number; tsz: number }; mair: bigint };
  armLpaeS2Cfg?: { vttbr: bigint; vtcr: { ps: number; tg: number; sh: number; orgn: number; irgn: number; sl: number; tsz: number } };
  armV7sCfg?: { ttbr: number; tcr: number; nmrr: number; prrr: number };
  armMaliLpaeCfg?: { transtab: bigint; memattr: bigint };
}

/**
 * Builds a walker config from an io_pgtable_cfg after the format filled it (the table address
 * comes from its ttbr/vttbr/transtab output).
 */
export function walkConfigFromIoPgtableCfg(format: string, cfg: IoPgtableCfgLike): WalkConfigAny {
  const o = { quirks: cfg.quirks, ias: cfg.ias, oas: cfg.oas };
  const s1 = cfg.armLpaeS1Cfg;
  const s2 = cfg.armLpaeS2Cfg;
  const v7 = cfg.armV7sCfg;
  const mali = cfg.armMaliLpaeCfg;
  switch (format) {
    case 'ARM_64_LPAE_S1':
    case 'ARM_32_LPAE_S1':
      if (!s1) break;
      return walkConfigFromIoPgtableRegs(
        format,
        { tcr_ips: s1.tcr.ips, tcr_tg: s1.tcr.tg, tcr_tsz: s1.tcr.tsz, mair: s1.mair },
        { ...o, tableBase: Number(s1.ttbr) },
      );
    case 'ARM_64_LPAE_S2':
    case 'ARM_32_LPAE_S2':
      if (!s2) break;
      return walkConfigFromIoPgtableRegs(
        format,
        { vtcr_ps: s2.vtcr.ps, vtcr_tg: s2.vtcr.tg, vtcr_tsz: s2.vtcr.tsz, vtcr_sl: s2.vtcr.sl },
        { ...o, tableBase: Number(s2.vttbr) },
      );
    case 'ARM_MALI_LPAE':
      if (!mali) break;
      return walkConfigFromIoPgtableRegs(
        format,
        { transtab: mali.transtab & 0x1fn, memattr: mali.memattr },
        { ...o, tableBase: Number(mali.transtab & 0xfffffffff000n) },
      );
    case 'ARM_V7S': {
      if (!v7) break;
      const mtk = (cfg.quirks & QUIRK_BITS.ARM_MTK_EXT!) !== 0;
      // Linux's TTBR: table PA | walk attributes (bits 6:0); MediaTek: PA | PA[34:32] in bits 2:0.
      const base = (v7.ttbr & ~0x7f) >>> 0;
      const high = mtk ? (v7.ttbr & 7) * 2 ** 32 : 0;
      return walkConfigFromIoPgtableRegs(format, { tcr: v7.tcr, nmrr: v7.nmrr, prrr: v7.prrr }, { ...o, tableBase: base + high });
    }
    default:
      throw new RangeError(`unknown io-pgtable format '${format}'`);
  }
  throw new RangeError(`io_pgtable_cfg has no output block for ${format}`);
}
