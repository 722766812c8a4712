import { describe, expect, it } from 'vitest';
import {
  EEXIST,
  EINVAL,
  ENODEV,
  IOMMU_READ,
  IOMMU_WRITE,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainFree,
  iommuDomainSetPgtblOps,
  iommuIovaToPhys,
  iommuMap,
  iommuUnmap,
} from '@gki/kernel';
import type { ArmSmmuDomainImpl } from '../src/domain.js';
import { boot, domain } from './rig.js';

/*
 * arm_smmu publishes its context's io-pgtable as the domain's page table when it initialises
 * the context (first attach), so that the core's one-page iommu_map / iommu_unmap call it
 * directly; its own mapPages / unmapPages forward to the same table. A domain with the table
 * published and one with it withdrawn must give the same results and translations.
 */

const SZ_4K = 0x1000;
const SZ_2M = 0x20_0000;

type Op = { kind: 'map'; iova: number; pa: number; size: number; prot: number } | { kind: 'unmap'; iova: number; size: number };

/** A seeded generator (mulberry32): the same sequences on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const BAD_ADDR = [-SZ_4K, 0x800, SZ_4K + 0.5, NaN, 2 ** 48, 2 ** 52, 2 ** 53, 2 ** 44 + SZ_4K, 2 ** 31];
const BAD_SIZE = [0, -SZ_4K, 0x800, 0x1800, SZ_4K + 0.25, NaN, 2 ** 53, 0x10_0000];
const PROT = [IOMMU_READ, IOMMU_READ | IOMMU_WRITE, 0, 1.5, IOMMU_WRITE | 0x40];

/** Mostly aligned pages and blocks around 2^32 and 2^47, some bad addresses, sizes and prots. */
function randomOps(next: () => number, n: number): Op[] {
  const pick = <T>(v: readonly T[]): T => v[Math.floor(next() * v.length)]!;
  const addr = (): number => {
    const w = next();
    if (w < 0.6) return pick([0, 2 ** 32, 2 ** 47]) + Math.floor(next() * 32) * SZ_4K;
    if (w < 0.8) return pick([0, 2 ** 32]) + Math.floor(next() * 4) * SZ_2M;
    return pick(BAD_ADDR);
  };
  const size = (): number => {
    const w = next();
    if (w < 0.6) return SZ_4K;
    if (w < 0.8) return pick([SZ_2M, 3 * SZ_4K, SZ_2M + SZ_4K]);
    return pick(BAD_SIZE);
  };
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) ops.push(next() < 0.5 ? { kind: 'map', iova: addr(), pa: addr(), size: size(), prot: pick(PROT) } : { kind: 'unmap', iova: addr(), size: size() });
  return ops;
}

describe('arm_smmu publishes its io-pgtable to the IOMMU core', () => {
  it('publishes the table when the context is initialised and withdraws it when the domain is freed', () => {
    const r = boot();
    const d = domain(r.masters[0]!);
    const impl = d as ArmSmmuDomainImpl;
    expect(d.pgtblOps ?? null).toBe(null); // no context, no table, before the first attach
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    expect(impl.pgtbl).not.toBe(null);
    expect(d.pgtblOps).toBe(impl.pgtbl);
    expect(iommuMap(d, 2 ** 32, 0x8000_0000, SZ_4K, IOMMU_READ)).toBe(0);
    expect(iommuIovaToPhys(d, 2 ** 32 + 0x10)).toBe(0x8000_0010);
    expect(iommuDetachDevice(d, r.masters[0]!)).toBe(0);
    expect(iommuDomainFree(d)).toBe(0);
    expect(d.pgtblOps).toBe(null);
    expect(iommuMap(d, 2 ** 32 + SZ_4K, 0x8000_0000, SZ_4K, IOMMU_READ)).toBe(-ENODEV);
    expect(iommuUnmap(d, 2 ** 32, SZ_4K)).toBe(0);
  });

  it('gives the same results and translations with the table published as through its ops (property)', () => {
    const r = boot();
    const next = rng(0x3b2);
    for (let run = 0; run < 60; run++) {
      {
        const ops = randomOps(next, 1 + Math.floor(next() * 30));
        const pub = domain(r.masters[0]!);
        const plain = domain(r.masters[1]!);
        expect(iommuAttachDevice(pub, r.masters[0]!)).toBe(0);
        expect(iommuAttachDevice(plain, r.masters[1]!)).toBe(0);
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
      }
    }
  });

  it('answers bad arguments with the errno the driver path gives', () => {
    const r = boot();
    const pub = domain(r.masters[0]!);
    const plain = domain(r.masters[1]!);
    expect(iommuAttachDevice(pub, r.masters[0]!)).toBe(0);
    expect(iommuAttachDevice(plain, r.masters[1]!)).toBe(0);
    expect(iommuDomainSetPgtblOps(plain, null)).toBe(0);
    for (const d of [pub, plain]) {
      expect(iommuMap(d, 0x1800, 0x2000, SZ_4K, IOMMU_READ)).toBe(-EINVAL); // misaligned
      expect(iommuMap(d, SZ_4K, 0x2000, SZ_4K, 0)).toBe(-EINVAL); // neither read nor write
      expect(iommuMap(d, SZ_4K, 0x2000, SZ_4K, IOMMU_READ)).toBe(0);
      expect(iommuMap(d, SZ_4K, 0x3000, SZ_4K, IOMMU_READ)).toBe(-EEXIST);
      expect(iommuUnmap(d, SZ_4K, SZ_4K)).toBe(SZ_4K);
      expect(iommuUnmap(d, SZ_4K, SZ_4K)).toBe(0);
    }
  });
});
