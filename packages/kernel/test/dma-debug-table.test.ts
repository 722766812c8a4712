import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DMA_KIND_COHERENT, DMA_KIND_SINGLE, DmaMappings } from '../src/dma/debug.js';
import type { IommuDomain } from '../src/iommu/types.js';

/*
 * dma-debug's per-device table against a plain list of records: every lookup answers what a
 * scan of the list in insertion order answers (the oldest live record matching all the fields
 * given), whatever mix of additions, removals, duplicate addresses, tombstone reuse and
 * rebuilds came before.
 */

interface Rec {
  dmaAddr: number;
  size: number;
  kind: number;
  dir: number;
  domain: IommuDomain | null;
  iovaStart: number;
  iovaLen: number;
  cpuPa: number;
  order: number;
}

const domA = { type: 'dma' } as unknown as IommuDomain;
const domB = { type: 'dma' } as unknown as IommuDomain;

type Op =
  | { k: 'add'; page: boolean; addr: number; size: number; kind: number; dir: number; dom: number }
  | { k: 'remove'; pick: number }
  | { k: 'find'; addr: number; size: number; kind: number; dirOrPa: number };

const GRAN = 0x1000;

function ops(): fc.Arbitrary<Op[]> {
  // few distinct addresses (duplicates, long probe runs), some above 2^32 (both hash halves)
  const addr = fc.oneof(fc.integer({ min: 0, max: 5 }).map((i) => i * GRAN + (i % 3) * 0x10), fc.integer({ min: 0, max: 2 }).map((i) => 2 ** 36 + i * GRAN), fc.integer({ min: 0, max: 60 }).map((i) => i * GRAN));
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ k: fc.constant('add' as const), page: fc.boolean(), addr, size: fc.constantFrom(0x10, 0x100), kind: fc.constantFrom(DMA_KIND_SINGLE, DMA_KIND_COHERENT), dir: fc.integer({ min: 0, max: 2 }), dom: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 4, arbitrary: fc.record({ k: fc.constant('remove' as const), pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('find' as const), addr, size: fc.constantFrom(0x10, 0x100), kind: fc.constantFrom(DMA_KIND_SINGLE, DMA_KIND_COHERENT), dirOrPa: fc.integer({ min: 0, max: 2 }) }) },
  );
  return fc.array(op, { minLength: 1, maxLength: 400 });
}

function matches(r: Rec, addr: number, kind: number, size: number, dirOrPa: number): boolean {
  return r.dmaAddr === addr && r.size === size && r.kind === kind && (kind === DMA_KIND_COHERENT ? r.cpuPa === dirOrPa : r.dir === dirOrPa);
}

describe('dma-debug mapping table', () => {
  it('answers every lookup as a scan of the live records in insertion order would', () => {
    fc.assert(
      fc.property(ops(), (seq) => {
        const t = new DmaMappings();
        const model: Rec[] = [];
        let serial = 1;
        // the slot must hold exactly `want` (records with one key differ in domain, IOVA run or order)
        const same = (slot: number, want: Rec) => {
          expect(slot).toBeGreaterThanOrEqual(0);
          expect(t.domainAt(slot)).toBe(want.domain);
          expect(t.iovaStartAt(slot)).toBe(want.iovaStart);
          expect(t.iovaLenAt(slot)).toBe(want.iovaLen);
          if (want.kind === DMA_KIND_COHERENT) expect(t.orderAt(slot)).toBe(want.order);
        };
        const check = (addr: number, kind: number, size: number, dirOrPa: number, page: boolean) => {
          const want = model.find((r) => matches(r, addr, kind, size, dirOrPa));
          const slot = page ? t.findPage(Math.floor(addr / GRAN), GRAN, addr % GRAN, size, dirOrPa) : t.find(addr, kind, size, dirOrPa);
          if (want) same(slot, want);
          else expect(slot).toBe(-1);
        };
        // the newest record, while it is the table's pending page entry (addPage, nothing since)
        let pending: Rec | null = null;
        for (const op of seq) {
          if (op.k === 'add') {
            const dom = op.dom === 0 ? null : op.dom === 1 ? domA : domB;
            // what the DMA API guarantees: live mappings of one domain have distinct addresses
            if (dom && model.some((r) => r.domain === dom && r.dmaAddr === op.addr)) continue;
            pending = null;
            let r: Rec;
            if (op.page && op.kind === DMA_KIND_SINGLE && dom) {
              const pfn = Math.floor(op.addr / GRAN);
              r = { dmaAddr: op.addr, size: op.size, kind: DMA_KIND_SINGLE, dir: op.dir, domain: dom, iovaStart: pfn * GRAN, iovaLen: GRAN, cpuPa: 0, order: -1 };
              t.addPage(pfn, GRAN, op.addr % GRAN, op.size, op.dir, dom);
              pending = r;
            } else {
              const coherent = op.kind === DMA_KIND_COHERENT;
              const n = serial++;
              r = { dmaAddr: op.addr, size: op.size, kind: op.kind, dir: coherent ? 0 : op.dir, domain: dom, iovaStart: n * GRAN, iovaLen: 2 * GRAN, cpuPa: coherent ? op.dir : 0, order: n };
              t.add(r.dmaAddr, r.size, r.kind, r.dir, r.domain, r.iovaStart, r.iovaLen, r.cpuPa, r.order);
            }
            model.push(r);
          } else if (op.k === 'remove') {
            if (model.length === 0) continue;
            // remove what a lookup of some live record's fields finds: the oldest such record
            const m = model[op.pick % model.length]!;
            const pa = m.kind === DMA_KIND_COHERENT ? m.cpuPa : m.dir;
            const first = model.find((x) => matches(x, m.dmaAddr, m.kind, m.size, pa))!;
            // the fast removal applies exactly when the record is the pending one (by its key)
            // and every live record shares its domain; otherwise the table answers
            const p = pending;
            const takeable = m.kind === DMA_KIND_SINGLE && p !== null && m.dmaAddr === p.dmaAddr && m.size === p.size && m.dir === p.dir && m.domain === p.domain && model.every((x) => x.domain === p.domain);
            const took = m.kind === DMA_KIND_SINGLE && m.domain !== null && t.takePage(Math.floor(m.dmaAddr / GRAN), GRAN, m.dmaAddr % GRAN, m.size, m.dir, m.domain);
            expect(took).toBe(takeable);
            if (took) {
              // only the pending entry, and only when it is the one a lookup would find
              expect(first).toBe(pending);
              expect(model.every((x) => x.domain === m.domain)).toBe(true);
              model.splice(model.indexOf(first), 1);
              pending = null;
              expect(t.count).toBe(model.length);
              continue;
            }
            pending = null;
            const s = t.find(m.dmaAddr, m.kind, m.size, pa);
            same(s, first);
            t.removeAt(s);
            model.splice(model.indexOf(first), 1);
          } else {
            pending = null;
            check(op.addr, op.kind, op.size, op.dirOrPa, false);
            if (op.kind === DMA_KIND_SINGLE) check(op.addr, op.kind, op.size, op.dirOrPa, true);
          }
          expect(t.count).toBe(model.length);
        }
        let n = 0;
        t.forEach(() => n++);
        expect(n).toBe(model.length);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the oldest of two equal mappings first when a tombstone lies before it', () => {
    const t = new DmaMappings();
    t.add(0x1000, 0x10, DMA_KIND_SINGLE, 0, null, 1, 1, 0, -1);
    t.add(0x1000, 0x100, DMA_KIND_SINGLE, 0, null, 2, 2, 0, -1);
    t.removeAt(t.find(0x1000, DMA_KIND_SINGLE, 0x10, 0));
    t.add(0x1000, 0x100, DMA_KIND_SINGLE, 0, null, 3, 3, 0, -1);
    expect(t.iovaStartAt(t.find(0x1000, DMA_KIND_SINGLE, 0x100, 0))).toBe(2);
    t.removeAt(t.find(0x1000, DMA_KIND_SINGLE, 0x100, 0));
    expect(t.iovaStartAt(t.find(0x1000, DMA_KIND_SINGLE, 0x100, 0))).toBe(3);
  });

  it('reuses one slot for map/unmap churn of one address and grows with live entries', () => {
    const t = new DmaMappings();
    for (let i = 0; i < 1000; i++) t.addPage(0x10_0000 - i, GRAN, 0, GRAN, 0, domA);
    const pfn = 0x10_0000 - 2000;
    t.addPage(pfn, GRAN, 0x20, 0x100, 1, domA);
    const slot = t.findPage(pfn, GRAN, 0x20, 0x100, 1);
    expect(slot).toBeGreaterThanOrEqual(0);
    t.removeAt(slot);
    for (let i = 0; i < 10_000; i++) {
      t.addPage(pfn, GRAN, 0x20, 0x100, 1, domA);
      if (i % 2) {
        // the pending entry, then the table's slot once a lookup has moved it there
        expect(t.takePage(pfn, GRAN, 0x20, 0x100, 2, domA)).toBe(false);
        expect(t.takePage(pfn, GRAN, 0x20, 0x100, 1, domB)).toBe(false);
        expect(t.takePage(pfn, GRAN, 0x20, 0x100, 1, domA)).toBe(true);
        expect(t.count).toBe(1000);
        continue;
      }
      expect(t.findPage(pfn, GRAN, 0x20, 0x100, 1)).toBe(slot);
      expect(t.findPage(pfn, GRAN, 0x20, 0x100, 2)).toBe(-1);
      t.removeAt(slot);
    }
    // with an entry of another domain live, the pending entry is not taken (an older entry could share its key)
    t.add(0x5000, 0x100, DMA_KIND_SINGLE, 1, domB, 0x5000, GRAN, 0, -1);
    t.addPage(pfn, GRAN, 0x20, 0x100, 1, domA);
    expect(t.takePage(pfn, GRAN, 0x20, 0x100, 1, domA)).toBe(false);
    t.removeAt(t.findPage(pfn, GRAN, 0x20, 0x100, 1));
    t.removeAt(t.find(0x5000, DMA_KIND_SINGLE, 0x100, 1));
    expect(t.count).toBe(1000);
    // once it is gone, the pending entry is taken again
    t.addPage(pfn, GRAN, 0x20, 0x100, 1, domA);
    expect(t.takePage(pfn, GRAN, 0x20, 0x100, 1, domA)).toBe(true);
    expect(t.count).toBe(1000);
    // a directly mapped entry (no domain) counts as another domain's
    t.add(0x6000, 0x100, DMA_KIND_SINGLE, 1, null, 0, 0, 0, -1);
    t.addPage(pfn, GRAN, 0x20, 0x100, 1, domA);
    expect(t.takePage(pfn, GRAN, 0x20, 0x100, 1, domA)).toBe(false);
    t.removeAt(t.findPage(pfn, GRAN, 0x20, 0x100, 1));
    t.removeAt(t.find(0x6000, DMA_KIND_SINGLE, 0x100, 1));
    t.addPage(pfn, GRAN, 0x20, 0x100, 1, domA);
    expect(t.takePage(pfn, GRAN, 0x20, 0x100, 1, domA)).toBe(true);
    expect(t.count).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(t.findPage(0x10_0000 - i, GRAN, 0, GRAN, 0)).toBeGreaterThanOrEqual(0);
  });
});
