import { listLeaves, walkConfigFromIoPgtableCfg, type PhysMem } from '@gki/hw';
import type { IoPgtableCfg, IoPgtableFmt, IoPgtableLeaf, IoPgtableOps } from '@gki/io-pgtable-core';
import type { ReplayEnv } from '@gki/io-pgtable-core/vectors';

/** At most this many disagreements are listed per table (the rest are counted). */
const MAX_REPORTED = 8;

function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}

/** True when an LPAE leaf has output-address bits set below its own size (bits 11:0 excluded). */
function lpaeHasLowOaBits(pte: bigint, size: number, granuleShift: number, oas: number): boolean {
  let mask = (BigInt(size) - 1n) & ~0xfffn;
  // 64K granule with a 52-bit OA: bits 15:12 carry PA bits 51:48
  if (granuleShift === 16 && oas > 48) mask &= ~0xf000n;
  return (pte & mask) !== 0n;
}

/**
 * The independent check the replay runs on every table: @gki/hw's hardware walker, configured
 * from the registers the format wrote into cfg (as an IOMMU driver would program them), lists
 * the leaf slots it finds in RAM; they must be exactly the format's own leaves, and the walker's
 * output address of each must be what the format's iova_to_phys answers.
 */
export function walkerCheck(mem: PhysMem): NonNullable<ReplayEnv['check']> {
  return (ops: IoPgtableOps, cfg: IoPgtableCfg, fmt: IoPgtableFmt): string[] => {
    const problems: string[] = [];
    let hw;
    try {
      hw = listLeaves(mem, walkConfigFromIoPgtableCfg(fmt, cfg));
    } catch (e) {
      return [`walker: ${(e as Error).message}`];
    }
    // A v7s level-1 table covers only the format's ias (Linux allocates 2^(ias - 20) entries:
    // 4 KiB for ias 30), while TTBCR.N = 0 makes the hardware index a 16 KiB table for 32 bits.
    // Slots past the table's end are whatever the memory after it holds (a page the allocator
    // handed out or took back), not the format's: only IOVAs below 2^ias are compared.
    if (fmt === 'ARM_V7S' && cfg.ias < 32) {
      const limit = 2n ** BigInt(cfg.ias);
      hw = hw.filter((h) => h.va64 < limit);
    }
    const mine: IoPgtableLeaf[] = [];
    ops.walkLeaves?.((l) => mine.push({ ...l }));
    const key = (v: number | bigint) => BigInt.asUintN(64, BigInt(v));
    mine.sort((a, b) => (key(a.iova) < key(b.iova) ? -1 : key(a.iova) > key(b.iova) ? 1 : 0));
    let bad = 0;
    const note = (s: string) => {
      if (bad++ < MAX_REPORTED) problems.push(s);
    };
    if (ops.walkLeaves) {
      for (let i = 0; i < Math.max(hw.length, mine.length); i++) {
        const h = hw[i];
        const m = mine[i];
        if (h && m && h.level === m.level && h.va64 === key(m.iova) && h.size === m.size && h.pte === m.pte) continue;
        note(
          `walker leaf [${i}] ${h ? `level ${h.level} iova ${hex(h.va64)} pte ${hex(h.pte)}` : '(none)'} ` +
            `vs format ${m ? `level ${m.level} iova ${hex(key(m.iova))} pte ${hex(m.pte)}` : '(none)'}`,
        );
      }
    }
    const lpae = fmt !== 'ARM_V7S';
    const granuleShift = [12, 14, 16].find((g) => Math.floor(cfg.pgsizeBitmap / 2 ** g) % 2 === 1) ?? 12;
    for (const h of hw) {
      // A descriptor built from a misaligned paddr keeps OA bits below its block size; the kernel's
      // iova_to_phys adds them back, the hardware ignores them. The leaves already compared the
      // descriptor itself, so only well-formed descriptors are compared as translations.
      if (lpae && lpaeHasLowOaBits(h.pte, h.size, granuleShift, cfg.oas)) continue;
      const iova = h.va64 > BigInt(Number.MAX_SAFE_INTEGER) ? h.va64 : Number(h.va64);
      const pa = ops.iovaToPhys(iova);
      if (pa !== h.pa) note(`iova ${hex(h.va64)}: walker translates to ${hex(h.pa)}, format's iova_to_phys says ${hex(pa)}`);
    }
    if (bad > MAX_REPORTED) problems.push(`walker: ${bad - MAX_REPORTED} more disagreement(s) not shown`);
    return problems;
  };
}
