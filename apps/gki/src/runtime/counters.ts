/**
 * What the hardware models count, read through the board (the only place besides tests where
 * the CLI looks at models): TLB invalidations per IOMMU / GPU MMU, by command.
 */
import { MaliGpu, QcomIommu, SmmuV2, SmmuV3, type Board } from '@gki/hw';

export interface TlbCounter {
  /** The model's device-tree path. */
  readonly path: string;
  readonly model: 'smmu-v3' | 'smmu-v2' | 'qcom-iommu' | 'mali-mmu';
  /** Invalidation commands by name (SMMUv3 CMD_TLBI_*, SMMUv2 TLBI* registers, Mali FLUSH_PT/FLUSH_MEM). */
  readonly invalidations: Readonly<Record<string, number>>;
  readonly total: number;
  /** Translations the model did (TLB hits + walks). */
  readonly translations: number;
}

function pick(src: Readonly<Record<string, number>>, keep: (name: string) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(src)) if (keep(k) && v > 0) out[k] = v;
  return out;
}

function sum(r: Readonly<Record<string, number>>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

/** The TLB invalidation counters of every IOMMU and GPU MMU model of `board`. */
export function tlbCounters(board: Board): TlbCounter[] {
  const out: TlbCounter[] = [];
  for (const [path, m] of board.models) {
    if (m instanceof SmmuV3) {
      const inv = pick(m.stats.commands, (n) => n.startsWith('TLBI_'));
      out.push({ path, model: 'smmu-v3', invalidations: inv, total: sum(inv), translations: m.stats.translations });
    } else if (m instanceof SmmuV2) {
      const inv = pick(m.stats.tlbi, (n) => n.startsWith('TLBI'));
      out.push({ path, model: 'smmu-v2', invalidations: inv, total: sum(inv), translations: m.stats.translations });
    } else if (m instanceof QcomIommu) {
      const inv = pick(m.stats.tlbi, (n) => n.startsWith('TLBI'));
      out.push({ path, model: 'qcom-iommu', invalidations: inv, total: sum(inv), translations: m.stats.translations });
    } else if (m instanceof MaliGpu) {
      const inv = pick(m.stats.mmu.commands, (n) => n === 'FLUSH_PT' || n === 'FLUSH_MEM');
      out.push({ path, model: 'mali-mmu', invalidations: inv, total: sum(inv), translations: m.stats.mmu.translations });
    }
  }
  return out;
}

/** `after - before`, per model and command (models present in both). */
export function tlbDelta(before: readonly TlbCounter[], after: readonly TlbCounter[]): TlbCounter[] {
  return after.map((a) => {
    const b = before.find((x) => x.path === a.path);
    if (!b) return a;
    const inv: Record<string, number> = {};
    for (const [k, v] of Object.entries(a.invalidations)) {
      const d = v - (b.invalidations[k] ?? 0);
      if (d > 0) inv[k] = d;
    }
    return { ...a, invalidations: inv, total: sum(inv), translations: a.translations - b.translations };
  });
}
