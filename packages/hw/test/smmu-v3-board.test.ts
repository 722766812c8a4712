import { describe, expect, it } from 'vitest';
import {
  Board,
  buildFdt,
  defaultBoardSpec,
  DmaMaster,
  FdtError,
  IRQ_CTRL_EVTQ_IRQEN,
  node,
  prop,
  ref,
  SMMU_CR0,
  SMMU_IDR0,
  SMMU_IRQ_CTRL,
  SMMUV3_PRESET_QEMU,
  SmmuV3,
  attachSmmuV3Masters,
  socOf,
  writeDtb,
  type DraftNode,
} from '@gki/hw';

const SMMU_BASE = 0x2b40_0000;

function smmuNode(extra: ReturnType<typeof prop.string>[] = []): DraftNode {
  return node(`smmu: iommu@${SMMU_BASE.toString(16)}`, [
    prop.string('compatible', 'arm,smmu-v3'),
    prop.reg(1, 1, [SMMU_BASE, 0x2_0000]),
    prop.u32('interrupt-parent', ref('gic')),
    prop.cells('interrupts', 0, 74, 4, 0, 75, 4, 0, 77, 4),
    prop.strings('interrupt-names', ['eventq', 'gerror', 'cmdq-sync']),
    prop.u32('#iommu-cells', 1),
    ...extra,
  ]);
}

/** The default board with an SMMUv3 in /soc, first or last, and the first two masters behind it. */
function boardWithSmmu(first: boolean, extra: ReturnType<typeof prop.string>[] = []): Board {
  const spec = defaultBoardSpec();
  const soc = socOf(spec);
  soc.children[0]!.props.push(prop.cells('iommus', ref('smmu'), 0x20));
  soc.children[1]!.props.push(prop.cells('iommus', ref('smmu'), 0x21));
  if (first) soc.children.unshift(smmuNode(extra));
  else soc.children.push(smmuNode(extra));
  return Board.fromDtb(writeDtb(buildFdt(spec)));
}

describe('SMMUv3 on a board', () => {
  it('is instantiated for arm,smmu-v3 and attaches the masters whose iommus point at it', () => {
    for (const first of [true, false]) {
      const b = boardWithSmmu(first, [prop.string('gki,smmu-preset', 'qemu')]);
      const [smmu] = b.modelsOfType(SmmuV3);
      expect(smmu).toBeDefined();
      expect(b.bus.read32(SMMU_BASE + SMMU_IDR0)).toBe(SMMUV3_PRESET_QEMU.idr[0]);
      // fromDtb's link pass attached the masters wherever the SMMU sits in the tree
      const dmas = b.modelsOfType(DmaMaster);
      expect(dmas.map((d) => d.translated)).toEqual([true, true, false]);
      expect(smmu!.attachedMasters).toHaveLength(2);
      expect(attachSmmuV3Masters(b)).toBe(0); // already attached: idempotent
      // SMMUEN = 0 and GBPA bypass: DMA reaches RAM untranslated; GBPA abort would block it.
      const ram = 0x4000_0000 + 0x100_0000;
      b.mem.write32(ram, 0x1234);
      expect(dmas[0]!.checksum(ram, 4) & 2).toBe(2);
      expect(smmu!.stats.translations).toBeGreaterThan(0);
    }
  });

  it('raises the event queue line named in interrupt-names', () => {
    const b = boardWithSmmu(true);
    const smmu = b.modelsOfType(SmmuV3)[0]!;
    let events = 0;
    b.irq.onIrq(32 + 74, () => events++);
    // Minimal programming: an empty linear stream table of 2 entries, event queue of 4.
    const strtab = 0x4010_0000;
    const evtq = 0x4011_0000;
    b.mem.zero(strtab, 128);
    b.bus.write64(SMMU_BASE + 0x80, BigInt(strtab));
    b.bus.write32(SMMU_BASE + 0x88, 1);
    b.bus.write64(SMMU_BASE + 0xa0, BigInt(evtq) | 2n);
    b.bus.write32(SMMU_BASE + SMMU_IRQ_CTRL, IRQ_CTRL_EVTQ_IRQEN);
    b.bus.write32(SMMU_BASE + SMMU_CR0, 0x5); // SMMUEN | EVTQEN
    const out = { pa: 0 };
    expect(smmu.translate(0, -1, 0x1000, { write: false, exec: false, priv: false }, out)).toBe(false);
    expect(events).toBe(1);
    expect(b.mem.read32(evtq) & 0xff).toBe(0x04); // C_BAD_STE (V = 0)
  });

  it('rejects a window smaller than two pages and an unknown preset', () => {
    const spec = defaultBoardSpec();
    socOf(spec).children.push(node('iommu@2b400000', [prop.string('compatible', 'arm,smmu-v3'), prop.reg(1, 1, [SMMU_BASE, 0x1_0000])]));
    expect(() => Board.fromDtb(writeDtb(buildFdt(spec)))).toThrow(FdtError);
    expect(() => boardWithSmmu(true, [prop.string('gki,smmu-preset', 'nope')])).toThrow(/unknown gki,smmu-preset/);
  });
});
