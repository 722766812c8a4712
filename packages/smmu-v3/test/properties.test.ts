import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DMA_STATUS_FAULT } from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDomainAlloc, iommuMap, iommuUnmap } from '@gki/kernel';
import { boot, buffer } from './helpers.js';

const SZ_4K = 0x1000;
const SLOTS = 6;
const SLOT_PAGES = 64;

type Op = { kind: 'map'; slot: number; pages: number } | { kind: 'unmap'; slot: number } | { kind: 'touch'; slot: number; page: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), slot: fc.nat(SLOTS - 1), pages: fc.integer({ min: 1, max: SLOT_PAGES }) }),
  fc.record({ kind: fc.constant('unmap' as const), slot: fc.nat(SLOTS - 1) }),
  fc.record({ kind: fc.constant('touch' as const), slot: fc.nat(SLOTS - 1), page: fc.nat(SLOT_PAGES - 1) }),
);

describe('map/unmap/DMA against a reference model', () => {
  it('DMA succeeds exactly on mapped pages and lands on the mapped PA, with and without RIL', () => {
    fc.assert(
      fc.property(fc.constantFrom('fvp' as const, 'qemu' as const), fc.array(opArb, { minLength: 1, maxLength: 30 }), (preset, ops) => {
        const r = boot({ preset });
        const dev = r.masters[0]!;
        const dma = r.dmas[0]!;
        const d = iommuDomainAlloc(dev);
        if (typeof d === 'number') throw new Error(String(d));
        expect(iommuAttachDevice(d, dev)).toBe(0);
        const bufs = Array.from({ length: SLOTS }, () => buffer(r.k, 6));
        const mapped = new Map<number, number>(); // slot -> pages
        const iovaOf = (slot: number, page: number) => 0x100_0000 * (slot + 1) + page * SZ_4K;
        let tag = 1;
        const check = (slot: number, page: number) => {
          const n = mapped.get(slot) ?? 0;
          const st = dma.fill(iovaOf(slot, page), 4, tag);
          if (page < n) {
            expect(st & DMA_STATUS_FAULT).toBe(0);
            expect(r.k.mem.read32(bufs[slot]! + page * SZ_4K)).toBe(tag);
          } else {
            expect(st & DMA_STATUS_FAULT).toBeTruthy();
          }
          tag++;
        };
        for (const op of ops) {
          if (op.kind === 'map') {
            if (mapped.has(op.slot)) continue;
            expect(iommuMap(d, iovaOf(op.slot, 0), bufs[op.slot]!, op.pages * SZ_4K, IOMMU_READ | IOMMU_WRITE)).toBe(0);
            mapped.set(op.slot, op.pages);
          } else if (op.kind === 'unmap') {
            const n = mapped.get(op.slot);
            if (n === undefined) continue;
            expect(iommuUnmap(d, iovaOf(op.slot, 0), n * SZ_4K)).toBe(n * SZ_4K);
            mapped.delete(op.slot);
          } else {
            check(op.slot, op.page);
          }
          // Touch the edges of every slot after each step: stale TLB entries would show here.
          for (let s = 0; s < SLOTS; s++) {
            const n = mapped.get(s) ?? 0;
            check(s, 0);
            if (n > 0) check(s, n - 1);
            if (n < SLOT_PAGES) check(s, n);
          }
        }
        expect(r.model.hitlessViolations).toEqual([]);
      }),
      { numRuns: 25, seed: 0x5eed },
    );
  });
});
