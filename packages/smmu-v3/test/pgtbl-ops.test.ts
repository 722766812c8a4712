import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  EEXIST,
  EINVAL,
  ERANGE,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuDomainSetPgtblOps,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
  type IommuDomain,
} from '@gki/kernel';
import type { ArmSmmuV3DomainImpl } from '../src/domain.js';
import { boot, type Rig } from './helpers.js';

/*
 * arm_smmu_v3 publishes its io-pgtable as the domain's page table once the domain is finalised
 * (first attach), so that the core's one-page iommu_map / iommu_unmap call it directly. Its own
 * mapPages / unmapPages forward to the same table: a domain with the table published and one
 * with it withdrawn must give the same results and end with the same translations.
 */

const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;

function domainOn(r: Rig, i: number): IommuDomain {
  const d = iommuDomainAlloc(r.masters[i]!);
  if (typeof d === 'number') throw new Error(`domain alloc: ${d}`);
  expect(iommuAttachDevice(d, r.masters[i]!)).toBe(0);
  return d;
}

const addr = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 0, max: 31 }), fc.constantFrom(0, 2 ** 32, 2 ** 47)).map(([i, base]) => base + i * SZ_4K) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 2 ** 32)).map(([i, base]) => base + i * SZ_2M) },
  { weight: 2, arbitrary: fc.constantFrom(-SZ_4K, 0x800, SZ_4K + 0.5, NaN, 2 ** 48, 2 ** 52, 2 ** 53, 2 ** 44 + SZ_4K, 2 ** 31) },
);
const size = fc.oneof(
  { weight: 6, arbitrary: fc.constant(SZ_4K) },
  { weight: 2, arbitrary: fc.constantFrom(SZ_2M, 3 * SZ_4K, SZ_2M + SZ_4K) },
  { weight: 2, arbitrary: fc.constantFrom(0, -SZ_4K, 0x800, 0x1800, SZ_4K + 0.25, NaN, 2 ** 53, 0x10_0000) },
);
const prot = fc.constantFrom(IOMMU_READ, IOMMU_READ | IOMMU_WRITE, 0, 1.5, IOMMU_WRITE | 0x40);
type Op = { kind: 'map'; iova: number; pa: number; size: number; prot: number } | { kind: 'unmap'; iova: number; size: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('map' as const), iova: addr, pa: addr, size, prot }),
  fc.record({ kind: fc.constant('unmap' as const), iova: addr, size }),
);

describe('arm_smmu_v3 publishes its io-pgtable to the IOMMU core', () => {
  it('publishes the table once it exists and withdraws it when the domain is freed', () => {
    const r = boot();
    const d = iommuDomainAlloc(r.masters[0]!);
    if (typeof d === 'number') throw new Error(String(d));
    // finalised for the master's SMMU when allocated for it: the table exists and is published
    const impl = d as ArmSmmuV3DomainImpl;
    expect(impl.pgtbl).not.toBe(null);
    expect(d.pgtblOps).toBe(impl.pgtbl);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    expect(d.pgtblOps).toBe(impl.pgtbl);
    expect(iommuMap(d, 2 ** 32, 0x8000_0000, SZ_4K, IOMMU_READ)).toBe(0);
    expect(iommuIovaToPhys(d, 2 ** 32 + 0x10)).toBe(0x8000_0010);
    expect(iommuDetachDevice(d, r.masters[0]!)).toBe(0);
    expect(iommuDomainFree(d)).toBe(0);
    expect(d.pgtblOps).toBe(null);
    // freed: the driver's answers, as before the change
    expect(iommuMap(d, 2 ** 32 + SZ_4K, 0x8000_0000, SZ_4K, IOMMU_READ)).toBe(-19 /* -ENODEV */);
    expect(iommuUnmap(d, 2 ** 32, SZ_4K)).toBe(0);
  });

  it('gives the same results and translations with the table published as through its ops (property)', () => {
    const r = boot();
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 30 }), (ops) => {
        const pub = domainOn(r, 0);
        const plain = domainOn(r, 1);
        expect(pub.pgtblOps).toBeTruthy();
        expect(iommuDomainSetPgtblOps(plain, null)).toBe(0);
        const probes = new Set<number>();
        for (const o of ops) {
          const a = o.kind === 'map' ? iommuMap(pub, o.iova, o.pa, o.size, o.prot) : iommuUnmap(pub, o.iova, o.size);
          const b = o.kind === 'map' ? iommuMap(plain, o.iova, o.pa, o.size, o.prot) : iommuUnmap(plain, o.iova, o.size);
          expect(a, JSON.stringify(o)).toBe(b);
          if (Number.isSafeInteger(o.iova) && o.iova >= 0 && o.iova < 2 ** 48) for (const off of [0, 0x10, SZ_4K, SZ_2M - 1]) probes.add(o.iova + off);
        }
        for (const p of probes) expect(iommuIovaToPhys(pub, p), p.toString(16)).toBe(iommuIovaToPhys(plain, p));
        for (const [d, i] of [[pub, 0], [plain, 1]] as const) {
          expect(iommuDetachDevice(d, r.masters[i]!)).toBe(0);
          expect(iommuDomainFree(d)).toBe(0);
        }
      }),
      { numRuns: 60, seed: 0x3b3 },
    );
    expect(r.model.hitlessViolations).toEqual([]);
  });

  it('answers bad arguments with the errno the driver path gives', () => {
    const r = boot();
    const pub = domainOn(r, 0);
    const plain = domainOn(r, 1);
    expect(iommuDomainSetPgtblOps(plain, null)).toBe(0);
    for (const d of [pub, plain]) {
      expect(iommuMap(d, 0x1800, 0x2000, SZ_4K, IOMMU_READ)).toBe(-EINVAL); // misaligned
      expect(iommuMap(d, SZ_4K, 0x2000, SZ_4K, 0)).toBe(-EINVAL); // neither read nor write
      expect(iommuMap(d, 2 ** 48, 0x2000, SZ_4K, IOMMU_READ)).toBe(-ERANGE); // beyond the 48-bit IAS
      expect(iommuMap(d, SZ_4K, 2 ** 48, SZ_4K, IOMMU_READ)).toBe(-ERANGE); // beyond the OAS
      expect(iommuMap(d, SZ_4K, 0x2000, SZ_4K, IOMMU_READ)).toBe(0);
      expect(iommuMap(d, SZ_4K, 0x3000, SZ_4K, IOMMU_READ)).toBe(-EEXIST);
      expect(iommuUnmap(d, SZ_4K, SZ_4K)).toBe(SZ_4K);
      expect(iommuUnmap(d, SZ_4K, SZ_4K)).toBe(0);
    }
  });
});
