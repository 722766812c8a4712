/**
 * The DRM core's mmap offset manager, checked against drm_vma_manager.c / drm_vma_manager.h:
 * the range (DRM_FILE_PAGE_OFFSET_START/SIZE for a 64-bit kernel with 4 KiB pages), page-based
 * offsets with drm_vma_node_offset_addr the only byte value, drm_mm_insert_node's best fit, a
 * re-add that keeps the offset, a remove that zeroes the node, lookup inside a node versus the
 * exact lookup drm_gem_mmap uses, the per-file allow list (refcounted allow, allow_once, revoke),
 * -ENOSPC with nothing kept, and the takedown WARN.
 */
import { describe, expect, it } from 'vitest';
import { Board } from '@gki/hw';
import {
  DRM_FILE_PAGE_OFFSET_SIZE,
  DRM_FILE_PAGE_OFFSET_START,
  DrmVmaOffsetManager,
  DrmVmaOffsetNode,
  EINVAL,
  ENOSPC,
  Kernel,
  KernelError,
  drmVmaNodeAllow,
  drmVmaNodeAllowOnce,
  drmVmaNodeHasOffset,
  drmVmaNodeIsAllowed,
  drmVmaNodeOffsetAddr,
  drmVmaNodeRevoke,
  drmVmaNodeSize,
  drmVmaNodeStart,
  drmVmaNodeVerifyAccess,
  EACCES,
} from '../src/index.js';

const node = (): DrmVmaOffsetNode<null> => new DrmVmaOffsetNode(null);

describe('drm_vma_offset_manager', () => {
  it('covers pages from (0xffffffff >> PAGE_SHIFT) + 1 for (0xffffffff >> PAGE_SHIFT) * 256 pages: offsets start at 4 GiB', () => {
    expect(DRM_FILE_PAGE_OFFSET_START).toBe(Math.floor(0xffff_ffff / 4096) + 1);
    expect(DRM_FILE_PAGE_OFFSET_SIZE).toBe(Math.floor(0xffff_ffff / 4096) * 256);
    const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, DRM_FILE_PAGE_OFFSET_SIZE);
    const a = node();
    expect(mgr.add(a, 4)).toBe(0);
    // one hole covering the whole range: the first node goes at its bottom
    expect(drmVmaNodeStart(a)).toBe(0x10_0000);
    expect(drmVmaNodeSize(a)).toBe(4);
    expect(drmVmaNodeOffsetAddr(a)).toBe(0x1_0000_0000);
    expect([mgr.start, mgr.end]).toEqual([0x10_0000, 0x10_0000 + 0xf_ffff * 256]);
  });

  it('re-adding a node keeps its offset and size (returns 0); remove zeroes it; remove again does nothing', () => {
    const mgr = new DrmVmaOffsetManager(0x100, 64);
    const a = node();
    const b = node();
    expect(drmVmaNodeHasOffset(a)).toBe(false);
    expect([drmVmaNodeStart(a), drmVmaNodeSize(a), drmVmaNodeOffsetAddr(a)]).toEqual([0, 0, 0]);
    expect(mgr.add(a, 4)).toBe(0);
    expect(mgr.add(b, 2)).toBe(0);
    expect(drmVmaNodeStart(b)).toBe(0x104);
    expect(mgr.add(a, 16)).toBe(0);
    expect([drmVmaNodeStart(a), drmVmaNodeSize(a)]).toEqual([0x100, 4]);
    expect(mgr.nodes()).toEqual([a, b]);
    mgr.remove(a);
    expect([drmVmaNodeHasOffset(a), drmVmaNodeStart(a), drmVmaNodeSize(a)]).toEqual([false, 0, 0]);
    mgr.remove(a);
    expect(mgr.nodes()).toEqual([b]);
    // best fit: the 4-page hole left below b fits 3 pages better than the 58 above it
    expect(mgr.add(a, 3)).toBe(0);
    expect(drmVmaNodeStart(a)).toBe(0x100);
  });

  it('lookup finds the node covering [start, start + pages) from anywhere inside it; the exact lookup only from its first page', () => {
    const mgr = new DrmVmaOffsetManager(0x100, 64);
    const a = node();
    const b = node();
    const c = node();
    mgr.add(a, 4); // 0x100..0x103
    mgr.add(b, 2); // 0x104..0x105
    mgr.add(c, 8); // 0x106..0x10d
    expect(mgr.lookup(0x101, 1)).toBe(a);
    expect(mgr.lookup(0x101, 3)).toBe(a);
    expect(mgr.lookup(0x101, 4)).toBeUndefined(); // would run into b
    expect(mgr.lookup(0x100, 4)).toBe(a);
    expect(mgr.lookup(0x105, 1)).toBe(b);
    expect(mgr.lookup(0x10d, 1)).toBe(c);
    expect(mgr.lookup(0x10e, 1)).toBeUndefined(); // past the last node
    expect(mgr.lookup(0xff, 1)).toBeUndefined(); // below every node
    expect(mgr.exactLookup(0x101, 1)).toBeUndefined();
    expect(mgr.exactLookup(0x100, 4)).toBe(a);
    expect(mgr.exactLookup(0x100, 5)).toBeUndefined();
    expect(mgr.exactLookup(0x106, 1)).toBe(c);
    // a removed node's pages belong to no node: the node below does not cover them
    mgr.remove(b);
    expect(mgr.lookup(0x104, 1)).toBeUndefined();
    expect(mgr.exactLookup(0x104, 1)).toBeUndefined();
    for (const bad of [-1, 0.5, Number.NaN]) expect(mgr.lookup(bad, 1)).toBeUndefined();
  });

  it('-ENOSPC when no hole fits (and for 0 pages), with the node left without an offset', () => {
    const mgr = new DrmVmaOffsetManager(0x100, 8);
    const a = node();
    const b = node();
    expect(mgr.add(a, 8)).toBe(0);
    expect(mgr.add(b, 1)).toBe(-ENOSPC);
    expect([drmVmaNodeHasOffset(b), drmVmaNodeStart(b), drmVmaNodeSize(b)]).toEqual([false, 0, 0]);
    expect(mgr.nodes()).toEqual([a]);
    mgr.remove(a);
    expect(mgr.add(b, 0)).toBe(-ENOSPC);
    expect(mgr.add(b, 9)).toBe(-ENOSPC);
    expect(mgr.clean).toBe(true);
    // and the retry the header promises works once there is room
    expect(mgr.add(b, 8)).toBe(0);
    expect(drmVmaNodeStart(b)).toBe(0x100);
  });

  it('a node belongs to one manager: adding or removing it through another is -EINVAL', () => {
    const m1 = new DrmVmaOffsetManager(0x100, 8);
    const m2 = new DrmVmaOffsetManager(0x100, 8);
    const a = node();
    m1.add(a, 2);
    expect(m2.add(a, 2)).toBe(-EINVAL);
    expect(() => m2.remove(a)).toThrow(KernelError);
    expect(m1.nodes()).toEqual([a]);
    expect(m2.clean).toBe(true);
  });

  it('destroy WARNs "Memory manager not clean during takedown." with an offset left, and is quiet when clean', () => {
    const k = new Kernel(new Board('vma', [{ base: 0x4000_0000, size: 1 << 20 }]));
    const mgr = new DrmVmaOffsetManager(DRM_FILE_PAGE_OFFSET_START, DRM_FILE_PAGE_OFFSET_SIZE);
    const a = node();
    mgr.add(a, 1);
    expect(mgr.destroy(k.log)).toBe(false);
    expect(k.log.grep('Memory manager not clean during takedown.')).toHaveLength(1);
    mgr.remove(a);
    expect(mgr.destroy(k.log)).toBe(true);
    expect(k.log.grep('Memory manager not clean during takedown.')).toHaveLength(1);
  });
});

describe('drm_vma_node allow list', () => {
  it('allow is refcounted per file; revoke drops one reference; unknown files are ignored', () => {
    const n = node();
    const f1 = {};
    const f2 = {};
    expect(drmVmaNodeIsAllowed(n, f1)).toBe(false);
    expect(drmVmaNodeVerifyAccess(n, f1)).toBe(-EACCES);
    expect(drmVmaNodeAllow(n, f1)).toBe(0);
    expect(drmVmaNodeAllow(n, f1)).toBe(0);
    expect(drmVmaNodeIsAllowed(n, f1)).toBe(true);
    expect(drmVmaNodeIsAllowed(n, f2)).toBe(false);
    drmVmaNodeRevoke(n, f2);
    drmVmaNodeRevoke(n, f1);
    expect(drmVmaNodeIsAllowed(n, f1)).toBe(true);
    expect(drmVmaNodeVerifyAccess(n, f1)).toBe(0);
    drmVmaNodeRevoke(n, f1);
    expect(drmVmaNodeIsAllowed(n, f1)).toBe(false);
    expect(n.allowedFiles).toBe(0);
    drmVmaNodeRevoke(n, f1);
    expect(n.allowedFiles).toBe(0);
  });

  it('allow_once does not take another reference; one revoke undoes it', () => {
    const n = node();
    const f = {};
    expect(drmVmaNodeAllowOnce(n, f)).toBe(0);
    expect(drmVmaNodeAllowOnce(n, f)).toBe(0);
    drmVmaNodeRevoke(n, f);
    expect(drmVmaNodeIsAllowed(n, f)).toBe(false);
    // after a refcounted allow, allow_once leaves the count as it is
    drmVmaNodeAllow(n, f);
    drmVmaNodeAllowOnce(n, f);
    drmVmaNodeRevoke(n, f);
    expect(drmVmaNodeIsAllowed(n, f)).toBe(false);
  });

  it('the list survives the offset being removed and added again, and can be filled before any offset', () => {
    const mgr = new DrmVmaOffsetManager(0x100, 8);
    const n = node();
    const f = {};
    drmVmaNodeAllow(n, f);
    mgr.add(n, 2);
    expect(drmVmaNodeIsAllowed(n, f)).toBe(true);
    mgr.remove(n);
    expect(drmVmaNodeIsAllowed(n, f)).toBe(true);
    mgr.add(n, 2);
    expect(drmVmaNodeIsAllowed(n, f)).toBe(true);
  });
});
