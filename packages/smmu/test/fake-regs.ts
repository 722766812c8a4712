import { Board, DMA_MASTER_MODEL, buildFdt, defaultBoardSpec, node, prop, ref, socOf, writeDtb, type DraftNode, type IrqLine, type MmioDevice, type ModelFactory } from '@gki/hw';
import ioPgtableArm from '@gki/format-arm-lpae';
import ioPgtableArmV7s from '@gki/format-arm-v7s';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { Kernel, type Device, type Driver, type KernelImage, type KernelModule } from '@gki/kernel';
import armSmmu, { armSmmuFromDevice, type ArmSmmu } from '../src/index.js';

/*
 * A scripted register file standing in for an SMMUv2 in unit tests of the driver's
 * programming (what it writes, in which order, with which values). It only stores values,
 * clears write-one-to-clear status bits, answers the ID registers it was given and can be
 * told to never finish a TLB sync. It translates nothing: the end-to-end tests use the
 * hardware model of @gki/hw for that.
 */

export interface FakeSmmuOptions {
  id0?: number;
  id1?: number;
  id2?: number;
  id7?: number;
  /** Implemented SMR.ID bits (default 0x7fff) and SMR.MASK bits (default 0x7fff). */
  smrIdBits?: number;
  smrMaskBits?: number;
  /** TLB sync status stays active forever. */
  stuckSync?: boolean;
  /** ACTLR.CPRE cannot be cleared (sACR.CACHE_LOCK still set). */
  cpreLocked?: boolean;
  /** S2CR bypass writes read back as fault (Qualcomm firmware quirk). */
  s2crBypassBecomesFault?: boolean;
}

/** ID0 of an MMU-500-like SMMU: S1+S2+nested, stream matching, `nsmr` SMRs, 15-bit SIDs, AArch32 formats too. */
export function mmu500Id0(nsmr = 32): number {
  return ((1 << 30) | (1 << 29) | (1 << 28) | (1 << 27) | (15 << 9) | (1 << 14) | nsmr) >>> 0;
}
/** ID1: 4 KiB pages, NUMPAGENDXB = 3 (16 global + 16 context pages), `ncb` banks of which `ns2` stage-2 only. */
export function id1(ncb = 8, ns2 = 0, numpagendxb = 3): number {
  return ((numpagendxb << 28) | (ns2 << 16) | ncb) >>> 0;
}
/** ID2: IAS/OAS 48-bit, UBS 48-bit, AArch64 4K+64K, 16-bit VMIDs. */
export const ID2_DEFAULT = (5 | (5 << 4) | (5 << 8) | (1 << 12) | (1 << 14) | (1 << 15)) >>> 0;

export interface WriteRecord {
  off: number;
  val: number;
  hi?: number;
}

export class FakeSmmuRegs implements MmioDevice {
  readonly name = 'fake-smmu';
  readonly regs = new Map<number, number>();
  readonly writes: WriteRecord[] = [];
  readonly opts: Required<FakeSmmuOptions>;
  readonly cbBase: number;
  irqs: IrqLine[] = [];

  constructor(
    readonly size: number,
    opts: FakeSmmuOptions = {},
  ) {
    this.opts = {
      id0: mmu500Id0(),
      id1: id1(),
      id2: ID2_DEFAULT,
      id7: 0x21,
      smrIdBits: 0x7fff,
      smrMaskBits: 0x7fff,
      stuckSync: false,
      cpreLocked: false,
      s2crBypassBecomesFault: false,
      ...opts,
    };
    const pgshift = this.opts.id1 & (1 << 31) ? 16 : 12;
    this.cbBase = (1 << (((this.opts.id1 >>> 28) & 7) + 1)) * 2 ** pgshift;
    // reset values: SMMU disabled, prefetcher on in every bank
    this.regs.set(0x000, 1);
    for (let i = 0; i < (this.opts.id1 & 0xff); i++) this.regs.set(this.cbBase + i * 2 ** pgshift + 0x004, 0x2);
  }

  read32(off: number): number {
    switch (off) {
      case 0x020:
        return this.opts.id0;
      case 0x024:
        return this.opts.id1;
      case 0x028:
        return this.opts.id2;
      case 0x03c:
        return this.opts.id7;
      case 0x074:
        return this.opts.stuckSync ? 1 : 0;
    }
    if (off >= this.cbBase && (off & 0xfff) === 0x7f4) return this.opts.stuckSync ? 1 : 0;
    return this.regs.get(off) ?? 0;
  }

  write32(off: number, value: number): void {
    const v = value >>> 0;
    this.writes.push({ off, val: v });
    if (off === 0x048) {
      this.regs.set(off, (this.regs.get(off) ?? 0) & ~v);
      return;
    }
    if (off >= 0x800 && off < 0xc00) {
      this.regs.set(off, (v & (0x8000_0000 | this.opts.smrIdBits | (this.opts.smrMaskBits << 16))) >>> 0);
      return;
    }
    if (off >= 0xc00 && off < 0x1000 && this.opts.s2crBypassBecomesFault && ((v >>> 16) & 3) === 1) {
      this.regs.set(off, ((v & ~(3 << 16)) | (2 << 16)) >>> 0);
      return;
    }
    if (off >= this.cbBase && (off & 0xfff) === 0x058) {
      this.regs.set(off, ((this.regs.get(off) ?? 0) & ~v) >>> 0);
      return;
    }
    if (off >= this.cbBase && (off & 0xfff) === 0x004 && this.opts.cpreLocked) {
      this.regs.set(off, (v | 0x2) >>> 0);
      return;
    }
    this.regs.set(off, v);
  }

  write64parts(off: number, lo: number, hi: number): void {
    this.writes.push({ off, val: lo >>> 0, hi: hi >>> 0 });
    this.regs.set(off, lo >>> 0);
    this.regs.set(off + 4, hi >>> 0);
  }

  /** Context bank register `off` of bank `idx` (4 KiB pages). */
  cb(idx: number, off: number): number {
    return this.read32(this.cbBase + idx * 0x1000 + off);
  }

  /** Writes since `mark` (an index into `writes`), as [offset, value(, hi)]. */
  since(mark: number): WriteRecord[] {
    return this.writes.slice(mark);
  }

  /** Records a context fault in bank `idx` and raises its interrupt (context interrupts follow `nglobal` global ones). */
  contextFault(idx: number, nglobal: number, fsr: number, far: number, fsynr0: number, cbfrsynra: number): void {
    const base = this.cbBase + idx * 0x1000;
    this.regs.set(base + 0x058, fsr >>> 0);
    this.regs.set(base + 0x060, far >>> 0);
    this.regs.set(base + 0x064, Math.floor(far / 2 ** 32) >>> 0);
    this.regs.set(base + 0x068, fsynr0 >>> 0);
    this.regs.set(0x1000 + 0x400 + 4 * idx, cbfrsynra >>> 0);
    const line = this.irqs[nglobal + idx]!;
    line.lower();
    line.raise();
  }

  globalFault(gfsr: number, gfsynr0: number, gfsynr1: number): void {
    this.regs.set(0x048, gfsr >>> 0);
    this.regs.set(0x050, gfsynr0 >>> 0);
    this.regs.set(0x054, gfsynr1 >>> 0);
    const line = this.irqs[0]!;
    line.lower();
    line.raise();
  }
}

export const SMMU_BASE = 0x2b40_0000;
export const SMMU_NAME = '2b400000.iommu';
export const MASTER_NAMES = ['a000000.dma', 'a001000.dma', 'a002000.dma'] as const;

export interface FakeBoardOptions extends FakeSmmuOptions {
  compatible?: string[];
  /** iommus specifiers per DMA master (null: none). Default <&smmu 0x10+n>. */
  iommus?: (number[] | null)[];
  iommuCells?: number;
  globalIrqs?: number;
  /** Leave out the #global-interrupts property. */
  noGlobalInterruptsProp?: boolean;
  contextIrqs?: number;
  /** Extra properties per DMA master node (they are labelled dma0, dma1, dma2). */
  masterProps?: (ReturnType<typeof prop.empty>[] | undefined)[];
  /** Extra properties on the SMMU node. */
  smmuProps?: ReturnType<typeof prop.empty>[];
  /** Extra nodes under /soc. */
  extra?: DraftNode[];
  regSize?: number;
}

/** The default board's three DMA masters plus the fake SMMU at 0x2b400000. */
export function fakeBoard(opts: FakeBoardOptions = {}): { board: Board; regs: () => FakeSmmuRegs } {
  const spec = defaultBoardSpec();
  const soc = socOf(spec);
  const cells = opts.iommuCells ?? 1;
  soc.children.forEach((c, i) => {
    const spec = opts.iommus ? opts.iommus[i] : [0x10 + i];
    if (spec) c.props.push(prop.cells('iommus', ref('smmu'), ...spec));
    c.props.push(...(opts.masterProps?.[i] ?? []));
    soc.children[i] = node(`dma${i}: ${c.name}`, c.props, c.children);
  });
  const nglobal = opts.globalIrqs ?? 1;
  const nctx = opts.contextIrqs ?? (opts.id1 ?? id1()) & 0xff;
  const irqCells: number[] = [];
  for (let i = 0; i < nglobal + nctx; i++) irqCells.push(0, 100 + i, 4);
  const size = opts.regSize ?? 0x2_0000;
  soc.children.push(
    node(`smmu: iommu@${SMMU_BASE.toString(16)}`, [
      prop.strings('compatible', opts.compatible ?? ['arm,mmu-500']),
      prop.reg(1, 1, [SMMU_BASE, size]),
      prop.u32('interrupt-parent', ref('gic')),
      prop.cells('interrupts', ...irqCells),
      ...(opts.noGlobalInterruptsProp ? [] : [prop.u32('#global-interrupts', nglobal)]),
      prop.u32('#iommu-cells', cells),
      ...(opts.smmuProps ?? []),
    ]),
    ...(opts.extra ?? []),
  );
  let made: FakeSmmuRegs | null = null;
  const factory: ModelFactory = (board, _node, regs, irqs) => {
    made = new FakeSmmuRegs(regs[0]!.size, opts);
    made.irqs = irqs.map((n) => board.irq.line(n));
    board.bus.map(regs[0]!.address, regs[0]!.size, made);
    return made;
  };
  const compats = opts.compatible ?? ['arm,mmu-500'];
  const board = Board.fromDtb(writeDtb(buildFdt(spec)), { models: [DMA_MASTER_MODEL, { name: 'fake-smmu', compatibles: compats, factory }] });
  return { board, regs: () => made! };
}

/** A driver for the gki,dma-master engines that binds and records probes. */
export function dmaTestModule(probed: string[] = []): KernelModule {
  const drv: Driver = {
    name: 'dma-test',
    ofMatchTable: [{ compatible: 'gki,dma-master' }],
    probe(dev) {
      probed.push(dev.name);
      return 0;
    },
  };
  return {
    name: 'dma_test',
    version: '0.0.1',
    license: 'GPL v2',
    init: (ctx) => ctx.kernel.drivers.registerDriver(drv),
    exit: (ctx) => void ctx.kernel.drivers.unregisterDriver(drv),
  };
}

export function defaultImage(probed: string[] = []): KernelImage {
  return {
    builtin: [ioPgtableCoreModule],
    modules: [ioPgtableArm, ioPgtableArmV7s, armSmmu, dmaTestModule(probed)],
    load: ['dma_test', 'arm_smmu'],
  };
}

export interface FakeRig {
  board: Board;
  k: Kernel;
  regs: FakeSmmuRegs;
  smmuDev: Device;
  smmu: ArmSmmu | undefined;
  masters: Device[];
  probed: string[];
}

export function bootFake(opts: FakeBoardOptions & { image?: (probed: string[]) => KernelImage } = {}): FakeRig {
  const { board, regs } = fakeBoard(opts);
  const probed: string[] = [];
  const k = Kernel.boot(board, (opts.image ?? defaultImage)(probed));
  const smmuDev = k.drivers.findDevice(SMMU_NAME)!;
  return {
    board,
    k,
    regs: regs(),
    smmuDev,
    smmu: armSmmuFromDevice(smmuDev),
    masters: MASTER_NAMES.map((n) => k.drivers.findDevice(n)!),
    probed,
  };
}
