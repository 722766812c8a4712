import { describe, expect, it } from 'vitest';
import { SmmuV2 } from '@gki/hw';
import { IO_PGTABLE_QUIRK_ARM_TTBR1, ioPgtableLiveTables, ioPgtableOpsInfo } from '@gki/io-pgtable-core';
import { adrenoSmmuPrivGet, iommuGetDomainForDev, iommuIovaToPhys } from '@gki/kernel';
import {
  GMU_UNCACHED_IOVA_BASE,
  MSM_INFO_GET_IOVA,
  MSM_INFO_SET_IOVA,
  MSM_PARAM_VA_SIZE,
  MSM_PARAM_VA_START,
  MSM_PIPE_3D0,
  MsmIommuPagetable,
  type MsmFile,
} from '../src/index.js';
import { memWrite, newBuf, submitStream, wait } from './client.js';
import { bootModelOk, sdm845GpuDtb, SMMU_BASE, type ModelRig } from './rig.js';

const TCR_EPD0 = 1 << 7;
const SZ_2M = 0x20_0000;

function open(r: ModelRig, pid = 1): MsmFile {
  const f = r.drm.open({ pid, comm: `p${pid}` });
  if (typeof f === 'number') throw new Error(`open: ${f}`);
  return f;
}

function cb0(r: ModelRig, off: number): number {
  return r.board.bus.read32(SMMU_BASE + r.board.modelsOfType(SmmuV2)[0]!.contextBankOffset(0) + off) >>> 0;
}

const pt = (f: MsmFile): MsmIommuPagetable => f.ctx.aspace.mmu as MsmIommuPagetable;

describe('per-process page tables', () => {
  it('are ARM_64_LPAE_S1 tables built from the SMMU\'s TTBR1 configuration, without the TTBR1 quirk', () => {
    const r = bootModelOk();
    const priv = adrenoSmmuPrivGet(r.drm.dev)!;
    const t1 = priv.getTtbr1Cfg!(priv.cookie);
    expect(t1.quirks & IO_PGTABLE_QUIRK_ARM_TTBR1).toBe(IO_PGTABLE_QUIRK_ARM_TTBR1);
    const live0 = ioPgtableLiveTables(r.k).length;
    const a = open(r, 1);
    const b = open(r, 2);
    expect(ioPgtableLiveTables(r.k).length).toBe(live0 + 2);
    for (const f of [a, b]) {
      expect(f.hasPrivateAddressSpace).toBe(true);
      const info = ioPgtableOpsInfo(pt(f).ops)!;
      expect(info.fmt).toBe('ARM_64_LPAE_S1');
      expect(info.cfg.ias).toBe(t1.ias);
      expect(info.cfg.oas).toBe(t1.oas);
      expect(info.cfg.pgsizeBitmap).toBe(t1.pgsizeBitmap);
      expect(info.cfg.quirks).toBe(t1.quirks & ~IO_PGTABLE_QUIRK_ARM_TTBR1);
      expect(pt(f).asid).toBe(0);
    }
    expect(pt(a).ttbr).not.toBe(pt(b).ttbr);
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_START })).toEqual({ value: 2n ** 32n });
    expect(a.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_SIZE })).toEqual({ value: 2n ** 32n });
    // each space has its own allocator: the first buffer of each goes to the start
    for (const f of [a, b]) {
      const h = f.gemNew({ size: 0x1000, flags: 0x2_0000 }) as { handle: number };
      expect(f.gemInfo({ handle: h.handle, info: MSM_INFO_GET_IOVA })).toEqual({ value: 2 ** 32, len: 0 });
    }
    a.close();
    b.close();
    expect(ioPgtableLiveTables(r.k).length).toBe(live0);
  });

  it('switch TTBR0 translation on with the first table and off with the last', () => {
    const r = bootModelOk();
    expect(cb0(r, 0x30) & TCR_EPD0).toBe(TCR_EPD0);
    const a = open(r, 1);
    expect(cb0(r, 0x30) & TCR_EPD0).toBe(0);
    // TTBR0 starts out at the first table; later ones come from the command stream
    expect(cb0(r, 0x20)).toBe(Number(BigInt.asUintN(64, pt(a).ttbr) & 0xffff_ffffn));
    const b = open(r, 2);
    a.close();
    expect(cb0(r, 0x30) & TCR_EPD0).toBe(0);
    b.close();
    expect(cb0(r, 0x30) & TCR_EPD0).toBe(TCR_EPD0);
  });

  it('map a buffer when a submit first uses it, and unmap it with a TLB invalidation before its pages are freed', () => {
    const run = (skipFlush: boolean) => {
      const r = bootModelOk();
      const f = open(r);
      const buf = newBuf(f, 0x1000, 0x1_0010_0000);
      const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
      const table = pt(f).ops;
      expect(table.iovaToPhys(buf.iova)).toBe(0); // an address, not yet a mapping
      expect(wait(f, submitStream(f, cmd, memWrite(buf.iova, [1]), [{ buf, write: true }]))).toBe(0);
      const pa = buf.map.bo.physAt(0);
      expect(table.iovaToPhys(buf.iova)).toBe(pa);
      const smmu = r.board.modelsOfType(SmmuV2)[0]!;
      const inv = () => (smmu.stats.tlbi.TLBIASID ?? 0) + (smmu.stats.tlbi.TLBIALL ?? 0);
      const inv0 = inv();
      r.drm.debug.skipUnmapFlushes = skipFlush ? 1 : 0;
      expect(f.gemClose({ handle: buf.handle })).toBe(0);
      expect(table.iovaToPhys(buf.iova)).toBe(0);
      expect(r.k.pages.isAllocated(pa)).toBe(false);
      // the stale address is written again by the process's next job
      expect(wait(f, submitStream(f, cmd, memWrite(buf.iova, [0xf4ee]), []))).toBe(0);
      return { invalidations: inv() - inv0, freedPageValue: r.k.mem.read32(pa), faults: r.drm.gpu.faults.length };
    };
    // the unmap flushes the context: the late write faults and the freed page is untouched
    expect(run(false)).toEqual({ invalidations: 1, freedPageValue: 1, faults: 1 });
    // without that flush the SMMU's TLB still points at the freed page, and the GPU writes it
    expect(run(true)).toEqual({ invalidations: 0, freedPageValue: 0xf4ee, faults: 0 });
  });

  it('the invalidation and its sync reach the SMMU before the page goes back to the allocator', () => {
    const r = bootModelOk();
    const f = open(r);
    const buf = newBuf(f, 0x1000, 0x1_0010_0000);
    const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
    expect(wait(f, submitStream(f, cmd, memWrite(buf.iova, [1]), [{ buf, write: true }]))).toBe(0);
    const pa = buf.map.bo.physAt(0);
    const smmu = r.board.modelsOfType(SmmuV2)[0]!;
    const count = () => ({
      inv: (smmu.stats.tlbi.TLBIASID ?? 0) + (smmu.stats.tlbi.TLBIALL ?? 0),
      sync: (smmu.stats.tlbi.TLBSYNC ?? 0) + (smmu.stats.tlbi.TLBGSYNC ?? 0),
    });
    const before = count();
    // watch the allocator: what had the SMMU been told when the buffer's page was freed?
    let atFree: { inv: number; sync: number } | null = null;
    const pages = r.k.pages;
    const free = pages.freePages.bind(pages);
    pages.freePages = (p: number, order = 0) => {
      if (pa >= p && pa < p + 0x1000 * 2 ** order) atFree = count();
      free(p, order);
    };
    try {
      expect(f.gemClose({ handle: buf.handle })).toBe(0);
    } finally {
      pages.freePages = free;
    }
    expect(r.k.pages.isAllocated(pa)).toBe(false);
    expect(atFree).not.toBeNull();
    expect(atFree!.inv - before.inv).toBe(1);
    expect(atFree!.sync).toBeGreaterThan(before.sync);
  });

  it('use 2 MiB blocks where the address and the pages allow it', () => {
    const r = bootModelOk();
    const f = open(r);
    const buf = newBuf(f, SZ_2M, 0x1_0020_0000);
    const cmd = newBuf(f, 0x1000, 0x1_0000_0000);
    expect(buf.map.bo.hasPages).toBe(false); // pages come with the first use
    expect(wait(f, submitStream(f, cmd, memWrite(buf.iova + 0x1_0000, [5]), [{ buf, write: true }]))).toBe(0);
    expect(buf.map.bo.runs).toEqual([{ pa: expect.any(Number), len: SZ_2M }]);
    expect(buf.map.bo.runs[0]!.pa % SZ_2M).toBe(0);
    const leaves: { iova: number; size: number }[] = [];
    pt(f).ops.walkLeaves!((l) => leaves.push({ iova: l.iova, size: l.size }));
    expect(leaves).toContainEqual({ iova: 0x1_0020_0000, size: SZ_2M });
    expect(buf.map.read32(0x1_0000)).toBe(5);
  });
});

describe('without per-process page tables', () => {
  it('every file shares the global address space on a non-Qualcomm SMMU, as the kernel falls back', () => {
    const r = bootModelOk(sdm845GpuDtb({ smmuCompat: ['arm,mmu-500'] }));
    expect(adrenoSmmuPrivGet(r.drm.dev)?.getTtbr1Cfg ?? null).toBeNull();
    const a = open(r, 1);
    const b = open(r, 2);
    expect(r.k.log.grep('No per-process page tables')).toHaveLength(1);
    for (const f of [a, b]) {
      expect(f.hasPrivateAddressSpace).toBe(false);
      expect(f.ctx.aspace).toBe(r.drm.gpu.aspace);
      expect(f.getParam({ pipe: MSM_PIPE_3D0, param: MSM_PARAM_VA_START })).toBe(-22);
    }
    // no split tables: the global space is the lower half from 16 MiB
    expect(r.drm.gpu.aspace.vaStart).toBe(0x100_0000);
    const ha = a.gemNew({ size: 0x1000, flags: 0x2_0000 }) as { handle: number };
    expect(a.gemInfo({ handle: ha.handle, info: MSM_INFO_SET_IOVA, value: 0x1_0000_0000 })).toBe(-95);
    const ba = newBuf(a, 0x1000);
    const bb = newBuf(b, 0x1000);
    expect(ba.iova).not.toBe(bb.iova);
    expect(ba.iova).toBeLessThan(2 ** 48);
    const fa = submitStream(a, newBuf(a, 0x1000), memWrite(ba.iova, [0xa]), [{ buf: ba, write: true }]);
    const fb = submitStream(b, newBuf(b, 0x1000), memWrite(bb.iova, [0xb]), [{ buf: bb, write: true }]);
    expect(wait(a, fa)).toBe(0);
    expect(wait(b, fb)).toBe(0);
    expect([ba.map.read32(0), bb.map.read32(0)]).toEqual([0xa, 0xb]);
    expect(r.gpu.cp.tableUpdates).toHaveLength(0);
    expect(r.drm.gpu.stats.ttbrSwitches).toBe(0);
    expect(iommuGetDomainForDev(r.drm.dev)?.geometry.apertureStart).toBe(0);
  });
});

describe('the GMU', () => {
  it('has its own domain on the Adreno SMMU with the HFI queues at their fixed address', () => {
    const r = bootModelOk();
    const gmu = r.drm.gpu.gmu;
    expect(gmu.domain).not.toBeNull();
    expect(iommuGetDomainForDev(gmu.dev)).toBe(gmu.domain);
    expect(iommuIovaToPhys(gmu.domain!, GMU_UNCACHED_IOVA_BASE)).toBeGreaterThan(0);
  });
});
