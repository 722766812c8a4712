import { describe, expect, it } from 'vitest';
import { DMA_STATUS_DONE, DMA_STATUS_FAULT, prop } from '@gki/hw';
import { ENOSPC, IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDetachDevice, iommuDomainFree, iommuGroupGet, iommuMap, iommuUnmap } from '@gki/kernel';
import { armSmmuMasterOf } from '../src/index.js';
import { SMMU_BASE, boot, buffer, domain } from './rig.js';

/*
 * Bad programming, reported as the hardware and Linux report it: the global fault handler's
 * "Unexpected global fault" / "Blocked unknown Stream ID" lines with the sGFSR syndrome, the
 * TLB sync timeout, ratelimited context fault messages. Nothing throws, the SMMU keeps working.
 */

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const GR0_SGFSR = 0x48;

const done = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;

describe('global faults', () => {
  it('an SMR conflict (two valid SMRs match one stream) is a global fault, reported and cleared', () => {
    const r = boot();
    const m0 = armSmmuMasterOf(r.masters[0]!)!;
    const free = r.smmu.smrs!.findIndex((s) => !s.valid);
    // a second SMR matching SID 0x10 (ID 0x10, MASK 0xf), pointing at a bypass S2CR
    r.smmu.debugGr0Write(0xc00 + 4 * free, 1 << 16);
    r.smmu.debugGr0Write(0x800 + 4 * free, (0x8000_0000 | (0xf << 16) | 0x10) >>> 0);
    expect(done(r.dmas[0]!.fill(0x1000, 4, 1))).toBe(false);
    expect(r.k.log.grep('Unexpected global fault, this could be serious')).toHaveLength(1);
    expect(r.k.log.grep('\tGFSR 0x00000004, GFSYNR0 0x00000002, GFSYNR1 0x00000010, GFSYNR2 0x00000000')).toHaveLength(1);
    expect(r.board.bus.read32(SMMU_BASE + GR0_SGFSR)).toBe(0); // written back
    expect(r.smmu.stats.globalFaults).toBe(1);
    // the driver's own bookkeeping never produces one: undo, and the master translates again
    r.smmu.writeSme(free);
    const d = domain(r.masters[0]!);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x1000, buf, SZ_4K, RW)).toBe(0);
    expect(done(r.dmas[0]!.fill(0x1000, 4, 0x600d))).toBe(true);
    expect(m0.smendx).toHaveLength(1);
  });

  it('an S2CR naming a context bank that does not exist is a global fault (unimplemented context bank)', () => {
    const r = boot();
    const idx = armSmmuMasterOf(r.masters[1]!)!.smendx[0]!;
    r.smmu.debugGr0Write(0xc00 + 4 * idx, 200); // translate through bank 200 of 8
    expect(done(r.dmas[1]!.fill(0x1000, 4, 1))).toBe(false);
    expect(r.k.log.grep('\tGFSR 0x00000008, GFSYNR0 0x00000002, GFSYNR1 0x00000011, GFSYNR2 0x00000000')).toHaveLength(1);
    expect(r.k.log.grep('Unexpected global fault, this could be serious')).toHaveLength(1);
  });

  it('a stream no SMR matches is blocked (disable_bypass) and named', () => {
    // two SMRs for three masters: the third gets -ENOSPC and its stream matches nothing
    const r = boot({ smmuProps: [prop.u32('gki,num-smr', 2)] });
    expect(iommuGroupGet(r.masters[2]!)).toBeUndefined();
    expect(r.k.log.grep('iommu configuration for device failed with ENOSPC')).toHaveLength(1);
    const buf = buffer(r.k);
    expect(r.dmas[2]!.fill(buf, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.k.mem.read32(buf)).toBe(0);
    expect(
      r.k.log.grep('Blocked unknown Stream ID 0x12; boot with "arm-smmu.disable_bypass=0" to allow, but this may have security implications'),
    ).toHaveLength(1);
  });
});

describe('context banks', () => {
  it('running out of context banks is -ENOSPC at attach, leaving everything as it was', () => {
    const r = boot();
    // three default domains hold banks 0..2; five more fit (a context stays with its domain after detach)
    for (let i = 0; i < 5; i++) {
      const d = domain(r.masters[0]!);
      expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
      expect(iommuDetachDevice(d, r.masters[0]!)).toBe(0);
    }
    expect(r.smmu.contextMap.every((x) => x)).toBe(true);
    const one = domain(r.masters[2]!);
    const snap = r.k.iommu.snapshot();
    expect(iommuAttachDevice(one, r.masters[2]!)).toBe(-ENOSPC);
    expect(r.k.iommu.snapshot()).toEqual(snap);
    expect(iommuDomainFree(one)).toBe(0);
  });
});

describe('TLB sync that never completes', () => {
  it('is reported as Linux reports it after 1 s (board clock) and nothing hangs or throws', () => {
    const r = boot();
    const d = domain(r.masters[0]!);
    expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x1000, buf, SZ_4K, RW)).toBe(0);
    r.model.stuckSync = true;
    const t0 = r.board.clock.now();
    expect(iommuUnmap(d, 0x1000, SZ_4K)).toBe(SZ_4K);
    const t1 = r.board.clock.now();
    // 20 back-off steps of 1, 2, 4, ... us: just over a second
    expect(t1 - t0).toBe(1_048_575_000);
    expect(r.k.log.grep('TLB sync timed out -- SMMU may be deadlocked')).toHaveLength(1);
    expect(r.smmu.stats.tlbSyncTimeouts).toBe(1);
    r.model.stuckSync = false;
    expect(iommuMap(d, 0x1000, buf, SZ_4K, RW)).toBe(0);
    expect(done(r.dmas[0]!.fill(0x1000, 4, 2))).toBe(true);
  });
});

describe('a fault storm', () => {
  it('logs at most 10 context faults per 5 s, then says how many were suppressed; the SMMU keeps working', () => {
    const r = boot();
    for (let i = 0; i < 1000; i++) expect(r.dmas[0]!.fill(0x7000_0000 + i * SZ_4K, 4, i) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.smmu.stats.contextFaults).toBe(1000);
    expect(r.smmu.stats.contextFaultsUnhandled).toBe(1000);
    expect(r.k.log.grep('Unhandled context fault')).toHaveLength(10);
    r.board.clock.advance(5e9);
    expect(r.dmas[0]!.fill(0x7000_0000, 4, 1) & DMA_STATUS_FAULT).toBeTruthy();
    expect(r.k.log.grep('arm_smmu_context_fault: 990 callbacks suppressed')).toHaveLength(1);
    expect(r.k.log.grep('Unhandled context fault')).toHaveLength(11);
    // the other masters were never affected
    const d = domain(r.masters[1]!);
    expect(iommuAttachDevice(d, r.masters[1]!)).toBe(0);
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x5000, buf, SZ_4K, RW)).toBe(0);
    expect(done(r.dmas[1]!.fill(0x5000, 4, 0x51))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(0x51);
  });
});
