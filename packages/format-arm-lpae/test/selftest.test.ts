/**
 * The kernel's own LPAE self-test (KUnit io-pgtable-arm-test, arm_lpae_do_selftests), rewritten:
 * every granule's bitmap x every (ias, oas) pair from {32,36,40,42,44,48} with ias <= oas, run for
 * ARM_64_LPAE_S1 and then ARM_64_LPAE_S2 on the same, already restricted, cfg.
 */
import { describe, expect, it } from 'vitest';
import {
  IOMMU_CACHE,
  IOMMU_NOEXEC,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_NO_WARN,
  type IommuFlushOps,
  type IoPgtableCfg,
} from '@gki/io-pgtable-core';
import { createArmLpaeOps, type ArmLpaeFmt } from '../src/index.js';
import { makeKernel } from './helpers/env.js';

const SZ_1G = 2 ** 30;
const SZ_2G = 2 ** 31;
const BITMAPS = [0x1000 + 0x200000 + 0x40000000, 0x4000 + 0x2000000, 0x10000 + 0x20000000];
const ADDRS = [32, 36, 40, 42, 44, 48];

/** Page sizes of a bitmap, ascending (the kernel's for_each_set_bit). */
function sizesOf(bitmap: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < 53; b++) if (Math.floor(bitmap / 2 ** b) % 2 === 1) out.push(2 ** b);
  return out;
}

/** One format's run of the self-test; returns the failures (empty = PASS). */
function selftestOne(fmt: ArmLpaeFmt, cfg: IoPgtableCfg, problems: string[]): string[] {
  const fail: string[] = [];
  const kernel = makeKernel(96);
  const ops = createArmLpaeOps(kernel, fmt, cfg, cfg);
  if (!ops) return [`${fmt}: failed to allocate io pgtable ops`];
  const m = { mapped: 0 };
  const check = (cond: boolean, what: string) => {
    if (!cond) fail.push(`${fmt} ias${cfg.ias}/oas${cfg.oas}: ${what}`);
  };
  // empty table
  check(ops.iovaToPhys(42) === 0, 'iova_to_phys(42) on an empty table');
  check(ops.iovaToPhys(SZ_1G + 42) === 0, 'iova_to_phys(1G+42) on an empty table');
  check(ops.iovaToPhys(SZ_2G + 42) === 0, 'iova_to_phys(2G+42) on an empty table');

  const sizes = sizesOf(cfg.pgsizeBitmap);
  // every page size: map, overlapping map must fail, translate
  let iova = 0;
  for (const size of sizes) {
    check(ops.mapPages(iova, iova, size, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_CACHE, m) === 0, `map ${size} at ${iova}`);
    check(ops.mapPages(iova, iova + size, size, 1, IOMMU_READ | IOMMU_NOEXEC, m) !== 0, `overlapping map ${size} at ${iova}`);
    check(ops.iovaToPhys(iova + 42) === iova + 42, `translate ${iova}+42`);
    iova += SZ_1G;
  }
  // full unmap, then remap write-only
  iova = 0;
  for (const size of sizes) {
    check(ops.unmapPages(iova, size, 1, null) === size, `unmap ${size} at ${iova}`);
    check(ops.iovaToPhys(iova + 42) === 0, `no translation after unmap at ${iova}`);
    check(ops.mapPages(iova, iova, size, 1, IOMMU_WRITE, m) === 0, `remap ${size} at ${iova}`);
    check(ops.iovaToPhys(iova + 42) === iova + 42, `translate remapped ${iova}+42`);
    iova += SZ_1G;
  }
  // the last largest page of the IAS (a corner of concatenated tables)
  const size = sizes[sizes.length - 1]!;
  iova = 2 ** cfg.ias - size;
  m.mapped = 0;
  check(ops.mapPages(iova, iova, size, 1, IOMMU_READ | IOMMU_WRITE | IOMMU_NOEXEC | IOMMU_CACHE, m) === 0, 'map the last page of the IAS');
  check(m.mapped === size, 'mapped count of the last page');
  check(ops.unmapPages(iova, size, 1, null) === size, 'unmap the last page of the IAS');
  // free_io_pgtable_ops
  cfg.tlb?.tlbFlushAll?.(cfg);
  ops.free();
  check(kernel.pages.stats().pagesInUse === 0, 'table pages leaked');
  return [...fail, ...problems.splice(0)];
}

describe('arm_lpae_do_selftests (63 configurations x S1, S2)', () => {
  let configs = 0;
  for (const bitmap of BITMAPS)
    for (const ias of ADDRS)
      for (const oas of ADDRS) {
        if (ias > oas) continue;
        configs++;
        it(`bitmap 0x${bitmap.toString(16)} ias ${ias} oas ${oas}`, () => {
          const problems: string[] = [];
          const cfg: IoPgtableCfg = { quirks: IO_PGTABLE_QUIRK_NO_WARN, pgsizeBitmap: bitmap, ias, oas, coherentWalk: true };
          // the dummy TLB ops check the cookie and that every flush size is a supported page size
          const tlb: IommuFlushOps = {
            tlbFlushAll: (cookie) => void (cookie !== cfg && problems.push('flush_all: wrong cookie')),
            tlbFlushWalk: (_iova, size, _granule, cookie) => {
              if (cookie !== cfg) problems.push('flush_walk: wrong cookie');
              if (!sizesOf(cfg.pgsizeBitmap).includes(size)) problems.push(`flush_walk: size ${size} not in the bitmap`);
            },
            tlbAddPage: (_g, _iova, granule, cookie) => {
              if (cookie !== cfg) problems.push('add_page: wrong cookie');
              if (!sizesOf(cfg.pgsizeBitmap).includes(granule)) problems.push(`add_page: size ${granule} not in the bitmap`);
            },
          };
          cfg.tlb = tlb;
          expect(selftestOne('ARM_64_LPAE_S1', cfg, problems)).toEqual([]);
          expect(selftestOne('ARM_64_LPAE_S2', cfg, problems)).toEqual([]);
        });
      }
  it('covers the 63 configurations of the kernel test', () => expect(configs).toBe(63));
});
