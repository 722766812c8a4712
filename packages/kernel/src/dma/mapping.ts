import { PciDev } from '../pci/device.js';
import { PAGE_SIZE } from '@gki/hw';
import { EINVAL, EIO, ENOMEM } from '../errno.js';
import { Device } from '../driver/device.js';
import { iommuIotlbGatherInit, iommuIotlbSync, iommuMap, iommuMapPage, iommuUnmap, iommuUnmapFast, iommuUnmapPage } from '../iommu/map.js';
import { IOMMU_CACHE, IOMMU_READ, IOMMU_WRITE, type IommuDomain } from '../iommu/types.js';
import { MAX_ORDER } from '../page-alloc.js';
import { DMA_KIND_COHERENT, DMA_KIND_SINGLE, DmaMappings } from './debug.js';
import type { IovaDomain } from './iova.js';

/** enum dma_data_direction. */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDataDirection = typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_NONE;

/**
 * What a failed dma_map_* returns. Linux uses all-ones (~0); a 64-bit all-ones value is not
 * a JavaScript number, so the model uses -1, which no DMA address can equal either.
 */
export const DMA_MAPPING_ERROR = -1;

/** DMA_BIT_MASK(n): addresses below 2^n (n > 53 is clamped: addresses stay below 2^52). */
export function DMA_BIT_MASK(n: number): number {
  return n >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** n - 1;
}

/** dma_mapping_error. */
export function dmaMappingError(_dev: Device, addr: number): boolean {
  return addr === DMA_MAPPING_ERROR;
}

/**
 * dma_info_to_prot: the IOMMU permissions a mapping gets. TO_DEVICE: the device reads;
 * FROM_DEVICE: it writes; BIDIRECTIONAL: both; IOMMU_CACHE when the device is coherent.
 */
export function dmaDirectionToProt(dir: DmaDataDirection, coherent: boolean): number {
  const cache = coherent ? IOMMU_CACHE : 0;
  switch (dir) {
    case DMA_BIDIRECTIONAL:
      return cache | IOMMU_READ | IOMMU_WRITE;
    case DMA_TO_DEVICE:
      return cache | IOMMU_READ;
    case DMA_FROM_DEVICE:
      return cache | IOMMU_WRITE;
    default:
      return 0;
  }
}

/**
 * dev_is_dma_coherent from DT (of_dma_is_coherent): the nearest `dma-coherent` or
 * `dma-noncoherent` on the node or its ancestors decides; neither means non-coherent.
 */
export function devIsDmaCoherent(dev: Device): boolean {
  // a PCI function without a node of its own is configured from its host bridge's (pci_dma_configure)
  for (let n = dev.ofNode ?? (dev instanceof PciDev ? dev.host.node : null); n; n = n.parent) {
    if (n.hasProperty('dma-coherent')) return true;
    if (n.hasProperty('dma-noncoherent')) return false;
  }
  return false;
}

/** One scatterlist entry: the caller fills paddr/length; dmaMapSg fills the DMA side. */
export interface Scatterlist {
  readonly paddr: number;
  readonly length: number;
  /** Set by dmaMapSg: the DMA address of output segment i (DMA_MAPPING_ERROR past the count). */
  dmaAddress?: number;
  /** Set by dmaMapSg: the length of output segment i (0 past the count). */
  dmaLength?: number;
}

/** A buffer from dmaAllocCoherent. */
export interface DmaCoherentBuffer {
  /** Physical address of the CPU's view (zeroed pages from the page allocator). */
  readonly cpuPa: number;
  /** What the device uses. */
  readonly dmaAddr: number;
  readonly size: number;
}

/** One live mapping as dma-debug would list it (plain data). */
export interface DmaDebugEntry {
  readonly kind: 'single' | 'sg' | 'coherent';
  readonly dmaAddr: number;
  readonly size: number;
  readonly dir: DmaDataDirection;
  /** True when it went through an IOMMU DMA domain (false: direct mapping). */
  readonly iommu: boolean;
}

/** A mapped scatterlist (dma-debug's record of it). */
interface SgMapping {
  readonly dmaAddr: number;
  readonly size: number;
  readonly dir: DmaDataDirection;
  /** The DMA domain and IOVA run it used, or null when mapped directly. */
  readonly domain: IommuDomain | null;
  readonly iovaStart: number;
  readonly iovaLen: number;
}

/** Per-device DMA state: masks, segment limits and the live mappings (dma-debug). */
interface DevDma {
  mask: number;
  coherentMask: number;
  maxSegSize: number;
  /** Single mappings and coherent buffers. */
  readonly maps: DmaMappings;
  readonly sgLists: Map<readonly Scatterlist[], SgMapping>;
  /** IOMMU_CACHE if devIsDmaCoherent(dev), else 0; -1 until first used (the DT does not change under a device). */
  cacheProt: number;
  /** The last DMA domain looked up for the device and its IOVA allocator (a domain's never changes). */
  cookieDomain: IommuDomain | null;
  cookie: IovaDomain | null;
  /** The IOMMU core's entry for the device and the core's devsEpoch when it was read (-1: never). */
  entry: { readonly group: { readonly defaultDomain: IommuDomain | null } | null } | null;
  entryEpoch: number;
  /**
   * The core's devsEpoch when dmaDomain last found `cookieDomain` to be the device's default
   * DMA domain, with `cookie` its IOVA allocator (-1: not so). Every change of the device's
   * entry, its group or the group's default domain changes devsEpoch, so while the two are
   * equal that answer stands: the one-page path compares them instead of reading the chain.
   */
  oneEpoch: number;
  /** The kernel's IOMMU core (dev.core.kernel.iommu, which never changes). */
  readonly iommu: { readonly devsEpoch: number };
}

const devDma = new WeakMap<Device, DevDma>();
/*
 * The one-page paths' call targets and module state, as module constants. V8's optimising
 * compiler folds a `const` binding that is initialised into the constant it holds (the object's
 * shape is then known too), where a function declaration or an imported binding is loaded
 * through the module's context and cell at every call and compared with the function the code
 * was compiled for, and a `let` is loaded and tested for initialisation at every use. In the
 * caller's loop, where dmaMapSingle's front and dmaUnmapSingle are inlined and dmaMapFrame's
 * call makes every value be loaded again, those loads and tests are per pair.
 */
const MAP_FRAME = dmaMapFrame;
const MAP_PAGE = iommuMapPage;
const UNMAP_PAGE = iommuUnmapPage;
const UNMAP_SLOW = dmaUnmapSlow;
const CACHE_PROT_OF = cacheProtOf;
/**
 * IOMMU_READ | IOMMU_WRITE, IOMMU_READ, IOMMU_WRITE, and this module's exported DMA_* constants,
 * as private constants: an imported or exported binding lives in a module cell, which is loaded
 * and tested for initialisation at every use.
 */
const PROT_RW = IOMMU_READ | IOMMU_WRITE;
const PROT_R = IOMMU_READ;
const PROT_W = IOMMU_WRITE;
const BIDI = DMA_BIDIRECTIONAL;
const TO_DEV = DMA_TO_DEVICE;
const FROM_DEV = DMA_FROM_DEVICE;
const MAP_ERROR = DMA_MAPPING_ERROR;
/** The last device looked up and its state: consecutive calls mostly concern one device. */
const last: { dev: Device | null; dma: DevDma | null } = { dev: null, dma: null };

function dma(dev: Device): DevDma {
  if (dev === last.dev) return last.dma!;
  let d = devDma.get(dev);
  if (!d) {
    // platform devices start with 32-bit masks and 64 KiB segments (no dma_parms)
    d = { mask: DMA_BIT_MASK(32), coherentMask: DMA_BIT_MASK(32), maxSegSize: 0x1_0000, maps: new DmaMappings(), sgLists: new Map(), cacheProt: -1, cookieDomain: null, cookie: null, entry: null, entryEpoch: -1, oneEpoch: -1, iommu: dev.core.kernel.iommu };
    devDma.set(dev, d);
  }
  last.dev = dev;
  last.dma = d;
  return d;
}

/*
 * `DEVICE_PROTO.isPrototypeOf(x)` is `x instanceof Device`, but stays cheap when the package
 * runs from source under tsx, whose keepNames transform redefines each class's `name`: V8
 * then compiles `instanceof` to a generic lookup (~15 ns instead of ~2 ns per call).
 */
const DEVICE_PROTO = Device.prototype;

function validDevice(dev: unknown): dev is Device {
  return DEVICE_PROTO.isPrototypeOf(dev as object);
}

function validDir(dir: number): dir is DmaDataDirection {
  return dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE;
}

function validRange(addr: number, size: number): boolean {
  // Number.isSafeInteger(addr) && addr >= 0 && Number.isSafeInteger(size) && size > 0 &&
  // Number.isSafeInteger(addr + size), in cheaper terms: a sum above 2^53 - 1 rounds to at
  // least 2^53, so the sum test also bounds both terms (and rejects infinities)
  return typeof addr === 'number' && typeof size === 'number' && addr >= 0 && size > 0 && addr + size <= Number.MAX_SAFE_INTEGER && Math.floor(addr) === addr && Math.floor(size) === size;
}

function isMask(mask: number): boolean {
  if (mask === Number.MAX_SAFE_INTEGER) return true; // DMA_BIT_MASK(n >= 53)
  return Number.isSafeInteger(mask) && mask > 0 && 2 ** Math.round(Math.log2(mask + 1)) === mask + 1;
}

/** dma_set_mask: -EINVAL for a value that is not 2^n - 1, -EIO below 24 bits (unsupported). */
export function dmaSetMask(dev: Device, mask: number): number {
  if (!validDevice(dev) || !isMask(mask)) return -EINVAL;
  if (mask < DMA_BIT_MASK(24)) return -EIO;
  dma(dev).mask = mask;
  return 0;
}

/** dma_set_coherent_mask. */
export function dmaSetCoherentMask(dev: Device, mask: number): number {
  if (!validDevice(dev) || !isMask(mask)) return -EINVAL;
  if (mask < DMA_BIT_MASK(24)) return -EIO;
  dma(dev).coherentMask = mask;
  return 0;
}

/** dma_set_mask_and_coherent. */
export function dmaSetMaskAndCoherent(dev: Device, mask: number): number {
  const r = dmaSetMask(dev, mask);
  return r < 0 ? r : dmaSetCoherentMask(dev, mask);
}

/** dma_get_mask. */
export function dmaGetMask(dev: Device): number {
  return dma(dev).mask;
}

/** dma_set_max_seg_size: the longest segment dmaMapSg may merge. -EINVAL unless a positive integer. */
export function dmaSetMaxSegSize(dev: Device, size: number): number {
  if (!validDevice(dev) || !Number.isSafeInteger(size) || size <= 0) return -EINVAL;
  dma(dev).maxSegSize = size;
  return 0;
}

/**
 * The DMA domain the DMA API uses for `dev` (its IOVA allocator then in `d.cookie`), or null
 * for direct mapping.
 */
function dmaDomain(dev: Device, d: DevDma): IommuDomain | null {
  const iommu = dev.core.kernel.iommu;
  // iommu.dmaDomainForDev(dev), without its Map lookup on every call
  if (d.entryEpoch !== iommu.devsEpoch) {
    d.entry = iommu.devEntry(dev);
    d.entryEpoch = iommu.devsEpoch;
  }
  const domain = d.entry?.group?.defaultDomain;
  d.oneEpoch = -1;
  if (!domain || domain.type !== 'dma') return null;
  if (domain !== d.cookieDomain) {
    d.cookieDomain = domain;
    d.cookie = iommu.dmaCookie(domain);
  }
  if (!d.cookie) return null;
  d.oneEpoch = iommu.devsEpoch;
  return domain;
}

/** dev_is_dma_coherent, cached in the device's DMA state. */
function coherentOf(dev: Device, d: DevDma): boolean {
  return cacheProtOf(dev, d) !== 0;
}

/** IOMMU_CACHE when the device is coherent, else 0 (a number field: one load and compare on the one-page path). */
function cacheProtOf(dev: Device, d: DevDma): number {
  let c = d.cacheProt;
  if (c < 0) c = d.cacheProt = devIsDmaCoherent(dev) ? IOMMU_CACHE : 0;
  return c;
}

/** iommu_dma_alloc_iova: a size-aligned IOVA run of `len` bytes below the mask and aperture; -ENOMEM. */
function allocIova(domain: IommuDomain, iovad: IovaDomain, len: number, mask: number): number {
  let limit = mask;
  if (domain.geometry.forceAperture) limit = Math.min(limit, domain.geometry.apertureEnd);
  // (pfnOf multiplies by the granule's inverse: len is a multiple of the granule)
  const pfn = iovad.allocIova(iovad.pfnOf(len), iovad.pfnOf(limit), true);
  return pfn < 0 ? pfn : pfn * iovad.granule;
}

/** Unmaps an IOVA run with one gather and sync (iommu_unmap), then returns it to the allocator. */
function releaseRun(dev: Device, d: DevDma, domain: IommuDomain, iovaStart: number, iovaLen: number): void {
  const iovad = domain === d.cookieDomain ? d.cookie : dev.core.kernel.iommu.dmaCookie(domain);
  const n = iommuUnmap(domain, iovaStart, iovaLen);
  if (n !== iovaLen) dev.warn(`DMA unmap of 0x${iovaStart.toString(16)}: ${n} of ${iovaLen} bytes unmapped`);
  iovad?.freeIova(iovad.pfnOf(iovaStart), iovad.pfnOf(iovaLen));
}

/*
 * The one-page paths. Most dma_map_single / dma_unmap_single calls map one granule (the buffer
 * plus its offset in the granule fit in one) for a device whose DMA domain the DMA API has
 * already used, and most unmaps are of the mapping made last. Both functions test for their
 * case first and then repeat only what can change between calls (the DMA mask, the aperture;
 * the device's default domain through one compare of the core's devsEpoch, see `oneEpoch`);
 * any other case, or a failed test, takes the general code, which gives the same results.
 *
 * The one-page test relies on `last.dev`/`last.dma` (the device the DMA API saw last) and on
 * `d.cookie`, which is set only after `validDevice(dev)` held, so a device with a cookie needs
 * no further type check.
 *
 * Performance notes (V8): the map path calls the IOMMU core's frame-number entry
 * (iommuMapPage) and the dma-debug table's, so that no IOVA above 2^31 crosses a call as a
 * plain number (V8 boxes such a number into a heap number at every call it does not inline),
 * and dmaMapFrame (dmaMapSingle's work) is compiled with the core's one-page path, the driver's
 * op and the format's fast path inlined into it: V8 inlines at most 920 bytes of bytecode into
 * one function, and greedily, so a caller that inlined it would cut that chain somewhere.
 * dmaMapFrame is therefore kept whole (the general code in the same function), which makes it
 * too large (over 460 bytes of bytecode) for V8 to inline into a caller. It returns the
 * mapping's IOVA frame number, a small integer, and dmaMapSingle, a 70-byte front that callers
 * inline, rebuilds the address from it: a DMA address at or above 2^31 returned from a call
 * that is not inlined would be a new heap number per map. dmaUnmapSingle is the other
 * way round: its one-page path alone (146 bytes) with the rest in dmaUnmapSlow, so a caller
 * inlines it with its whole chain (about 730 bytes), and a map/unmap loop pays one call, not
 * two. Both cannot be inlined into one caller: together they are over 1,300 bytes.
 */

/** Largest address the one-page paths take (2^52: frame numbers and offsets stay exact). */
const ONE_PAGE_MAX = 2 ** 52;

/**
 * dma_map_single / dma_map_page: makes [paddr, paddr + size) visible to `dev`. Behind an
 * IOMMU DMA domain: a size-aligned IOVA run (top-down from the DMA mask) mapped with the
 * direction's permissions, keeping paddr's offset inside the granule. Without one: the
 * physical address itself, if the mask reaches it. DMA_MAPPING_ERROR on failure (bad
 * arguments, DMA_NONE, IOVA space or page tables exhausted), with nothing left behind.
 */
export function dmaMapSingle(dev: Device, paddr: number, size: number, dir: DmaDataDirection): number {
  const pfn = MAP_FRAME(dev, paddr, size, dir);
  return pfn >= 0 ? pfn * framed.gran + framed.off : pfn === MAP_ADDR_OUT ? mapAddrOut[0]! : MAP_ERROR;
}

/** dmaMapFrame's answer when the DMA address is in mapAddrOut[0] (a mapping other than one granule). */
const MAP_ADDR_OUT = -2;
/** The DMA address of dmaMapFrame's last MAP_ADDR_OUT answer. */
const mapAddrOut = new Float64Array(1);
/** The granule and the offset in it of dmaMapFrame's last one-granule mapping (small integers). */
const framed = { gran: 0, off: 0 };

/**
 * dmaMapSingle's work: the one-granule mapping's IOVA frame (its granule and offset then in
 * framed.gran and framed.off), MAP_ADDR_OUT with the DMA address in mapAddrOut[0], or
 * DMA_MAPPING_ERROR.
 */
function dmaMapFrame(dev: Device, paddr: number, size: number, dir: DmaDataDirection): number {
  if (dev === last.dev) {
    // one granule on the DMA domain the device used last (see above)
    const d = last.dma!;
    if (
      d.oneEpoch === d.iommu.devsEpoch &&
      (size | 0) === size &&
      size > 0 &&
      typeof paddr === 'number' &&
      paddr >= 0 &&
      paddr < ONE_PAGE_MAX &&
      Math.floor(paddr) === paddr &&
      (dir === BIDI || dir === TO_DEV || dir === FROM_DEV)
    ) {
      // cookieDomain is still the device's default domain, cookie its IOVA allocator (oneEpoch)
      const iovad = d.cookie!;
      const gran = iovad.granule;
      const off = (paddr >>> 0) & (gran - 1);
      if (off + size <= gran && gran <= 0x4000_0000) {
        // allocIova(domain, iovad, granule, d.mask), dmaDirectionToProt, iommuMap, the record
        const domain = d.cookieDomain!;
        const geo = domain.geometry;
        const pfn = iovad.allocOne(Math.floor((geo.forceAperture ? Math.min(d.mask, geo.apertureEnd) : d.mask) * iovad.invGranule));
        if (pfn < 0) return MAP_ERROR;
        const prot = CACHE_PROT_OF(dev, d) | (dir === BIDI ? PROT_RW : dir === TO_DEV ? PROT_R : PROT_W);
        if (MAP_PAGE(domain, pfn, (paddr - off) * iovad.invGranule, gran, prot) < 0) {
          iovad.freeOne(pfn);
          return MAP_ERROR;
        }
        d.maps.addPage(pfn, gran, off, size, dir, domain);
        framed.gran = gran;
        framed.off = off;
        return pfn;
      }
    }
  }
  if (!validDevice(dev) || !validRange(paddr, size) || !validDir(dir)) return DMA_MAPPING_ERROR;
  const d = dma(dev);
  const domain = dmaDomain(dev, d);
  if (!domain) {
    if (paddr + size - 1 > d.mask) {
      dev.err(`DMA address 0x${paddr.toString(16)}+0x${size.toString(16)} beyond the device's DMA mask`);
      return DMA_MAPPING_ERROR;
    }
    d.maps.add(paddr, size, DMA_KIND_SINGLE, dir, null, 0, 0, 0, -1);
    mapAddrOut[0] = paddr;
    return MAP_ADDR_OUT;
  }
  const iovad = d.cookie!;
  const off = iovad.offsetOf(paddr);
  const len = iovad.align(size + off);
  const iova = allocIova(domain, iovad, len, d.mask);
  if (iova < 0) return DMA_MAPPING_ERROR;
  const r = iommuMap(domain, iova, paddr - off, len, dmaDirectionToProt(dir, coherentOf(dev, d)));
  if (r < 0) {
    iovad.freeIova(iova / iovad.granule, len / iovad.granule);
    return DMA_MAPPING_ERROR;
  }
  d.maps.add(iova + off, size, DMA_KIND_SINGLE, dir, domain, iova, len, 0, -1);
  mapAddrOut[0] = iova + off;
  return MAP_ADDR_OUT;
}

/**
 * dma_unmap_single: undoes dmaMapSingle (IOMMU: unmap with one gather + sync, free the
 * IOVA). 0, or -EINVAL when no live single mapping of `dev` has this address, size and
 * direction (what dma-debug reports); nothing changes then.
 *
 * Only the commonest case is here: the unmap of the mapping the device made last, while it is
 * the dma-debug table's pending one-page entry on the cached DMA domain (takeNewest); the rest
 * is dmaUnmapSlow. This keeps the function small enough (under V8's 460 bytes of bytecode) for
 * a caller's loop to inline it with the IOMMU core's one-page unmap chain below it, about 700
 * bytes in all, inside V8's 920-byte budget per compiled function: the pair then pays one call
 * (dmaMapSingle), not two.
 */
export function dmaUnmapSingle(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): number {
  if (dev === last.dev) {
    const d = last.dma!;
    const iovad = d.cookie;
    if (iovad !== null) {
      // with a cookie, cookieDomain is not null
      const domain = d.cookieDomain!;
      const pfn = d.maps.takeNewest(dmaAddr, size, dir, domain);
      if (pfn >= 0) {
        // a one-granule mapping of the cached DMA domain (addPage in dmaMapSingle), frame pfn;
        // releaseRun(dev, d, domain, pfn * gran, gran)
        const gran = iovad.granule;
        const n = UNMAP_PAGE(domain, pfn, gran);
        if (n !== gran) warnPartialUnmap(dev, pfn, gran, n);
        iovad.freeOne(pfn);
        return 0;
      }
    }
  }
  return UNMAP_SLOW(dev, dmaAddr, size, dir);
}

/** releaseRun's warning for a one-granule run at frame `pfn` of which `n` bytes were unmapped. */
function warnPartialUnmap(dev: Device, pfn: number, gran: number, n: number): void {
  dev.warn(`DMA unmap of 0x${(pfn * gran).toString(16)}: ${n} of ${gran} bytes unmapped`);
}

/** dmaUnmapSingle for every call its first test did not take. */
function dmaUnmapSlow(dev: Device, dmaAddr: number, size: number, dir: DmaDataDirection): number {
  if (dev === last.dev) {
    const d = last.dma!;
    const iovad = d.cookie;
    if (iovad !== null && typeof dmaAddr === 'number' && dmaAddr >= 0 && dmaAddr < ONE_PAGE_MAX && Math.floor(dmaAddr) === dmaAddr && iovad.granule <= 0x4000_0000) {
      const gran = iovad.granule;
      const pfn = Math.floor(dmaAddr * iovad.invGranule);
      const maps = d.maps;
      const off = dmaAddr - pfn * gran;
      const slot = maps.findPage(pfn, gran, off, size, dir);
      if (slot < 0) return -EINVAL;
      const domain = maps.domainAt(slot);
      if (domain !== null && domain === d.cookieDomain && maps.iovaLenAt(slot) === gran) {
        // a one-granule mapping of the cached DMA domain: its IOVA run is frame pfn;
        // releaseRun(dev, d, domain, pfn * gran, gran)
        maps.removeAt(slot);
        const n = iommuUnmapPage(domain, pfn, gran);
        if (n !== gran) warnPartialUnmap(dev, pfn, gran, n);
        iovad.freeOne(pfn);
        return 0;
      }
    }
  }
  if (!validDevice(dev) || typeof dmaAddr !== 'number') return -EINVAL;
  const d = dma(dev);
  const slot = d.maps.find(dmaAddr, DMA_KIND_SINGLE, size, dir);
  if (slot < 0) return -EINVAL;
  const domain = d.maps.domainAt(slot);
  const iovaStart = d.maps.iovaStartAt(slot);
  const iovaLen = d.maps.iovaLenAt(slot);
  d.maps.removeAt(slot);
  if (domain) releaseRun(dev, d, domain, iovaStart, iovaLen);
  return 0;
}

/**
 * dma_map_sg (as dma_map_sgtable, returning -errno): maps every entry. Behind an IOMMU the
 * entries get one contiguous IOVA run, each starting on a granule boundary, and are then
 * merged into as few DMA segments as possible (an entry joins the previous segment when
 * it starts at offset 0 of its granule, the previous ends on a granule boundary and the
 * merged length stays within the device's max segment size). Returns the number of DMA
 * segments written to the first entries' dmaAddress/dmaLength (the rest get
 * DMA_MAPPING_ERROR/0). Directly mapped entries are not merged. -EINVAL for bad arguments
 * or a list already mapped, -ENOMEM without IOVA space, the map error otherwise; the list
 * and all state are unchanged on failure.
 */
export function dmaMapSg(dev: Device, sg: Scatterlist[], dir: DmaDataDirection): number {
  if (!validDevice(dev) || !Array.isArray(sg) || sg.length === 0 || !validDir(dir)) return -EINVAL;
  for (const s of sg) if (!s || !validRange(s.paddr, s.length)) return -EINVAL;
  const d = dma(dev);
  if (d.sgLists.has(sg)) return -EINVAL;
  const domain = dmaDomain(dev, d);
  if (!domain) {
    for (const s of sg) if (s.paddr + s.length - 1 > d.mask) return -EINVAL;
    for (const s of sg) {
      s.dmaAddress = s.paddr;
      s.dmaLength = s.length;
    }
    let bytes = 0;
    for (const s of sg) bytes += s.length;
    d.sgLists.set(sg, { dmaAddr: sg[0]!.paddr, size: bytes, dir, domain: null, iovaStart: 0, iovaLen: 0 });
    return sg.length;
  }
  const iovad = d.cookie!;
  let total = 0;
  for (const s of sg) total += iovad.align(s.length + iovad.offsetOf(s.paddr));
  const iova = allocIova(domain, iovad, total, d.mask);
  if (iova < 0) return iova;
  const prot = dmaDirectionToProt(dir, coherentOf(dev, d));
  let at = 0;
  for (const s of sg) {
    const off = iovad.offsetOf(s.paddr);
    const len = iovad.align(s.length + off);
    const r = iommuMap(domain, iova + at, s.paddr - off, len, prot);
    if (r < 0) {
      if (at > 0) {
        const g = iommuIotlbGatherInit();
        iommuUnmapFast(domain, iova, at, g);
        iommuIotlbSync(domain, g);
      }
      iovad.freeIova(iova / iovad.granule, total / iovad.granule);
      return r;
    }
    at += len;
  }
  // __finalise_sg: merge into DMA segments
  const segBoundary = 2 ** 32;
  let count = 0;
  let cur = -1;
  let curLen = 0;
  let addr = iova;
  for (let i = 0; i < sg.length; i++) {
    const s = sg[i]!;
    const off = iovad.offsetOf(s.paddr);
    const iovaLen = iovad.align(s.length + off);
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
    if (curLen > 0 && off === 0 && addr % segBoundary !== 0 && d.maxSegSize - curLen >= s.length) {
      curLen += s.length;
    } else {
      cur++;
      curLen = s.length;
      count++;
      sg[cur]!.dmaAddress = addr + off;
    }
    sg[cur]!.dmaLength = curLen;
    addr += iovaLen;
    if (s.length + off < iovaLen) curLen = 0; // ends inside a granule: nothing may follow it
  }
  d.sgLists.set(sg, { dmaAddr: iova, size: total, dir, domain, iovaStart: iova, iovaLen: total });
  return count;
}

/** dma_unmap_sg: 0, or -EINVAL (nothing changes) when `sg` is not a live mapping of `dev` with `dir`. */
export function dmaUnmapSg(dev: Device, sg: Scatterlist[], dir: DmaDataDirection): number {
  if (!validDevice(dev)) return -EINVAL;
  const d = dma(dev);
  const m = d.sgLists.get(sg);
  if (!m || m.dir !== dir) return -EINVAL;
  d.sgLists.delete(sg);
  if (m.domain) releaseRun(dev, d, m.domain, m.iovaStart, m.iovaLen);
  for (const s of sg) {
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
  }
  return 0;
}

/**
 * dma_alloc_coherent: zeroed pages from the page allocator (one naturally aligned block),
 * mapped for the device BIDIRECTIONAL (plus IOMMU_CACHE when coherent) behind an IOMMU, or
 * used directly when the coherent mask reaches them. The buffer, or -EINVAL / -ENOMEM with
 * nothing allocated.
 */
export function dmaAllocCoherent(dev: Device, size: number): DmaCoherentBuffer | number {
  if (!validDevice(dev) || !Number.isSafeInteger(size) || size <= 0) return -EINVAL;
  const d = dma(dev);
  const domain = dmaDomain(dev, d);
  const iovad = domain ? d.cookie! : null;
  const pageLen = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  const len = iovad ? Math.max(pageLen, iovad.align(size)) : pageLen;
  let order = 0;
  while (PAGE_SIZE * 2 ** order < len) order++;
  if (order > MAX_ORDER) return -ENOMEM;
  const pages = dev.core.kernel.pages;
  const pa = pages.allocPages(order);
  if (pa < 0) return pa;
  if (!domain || !iovad) {
    if (pa + len - 1 > d.coherentMask) {
      pages.freePages(pa, order);
      return -ENOMEM;
    }
    d.maps.add(pa, size, DMA_KIND_COHERENT, DMA_BIDIRECTIONAL, null, 0, 0, pa, order);
    return { cpuPa: pa, dmaAddr: pa, size };
  }
  const iova = allocIova(domain, iovad, len, d.coherentMask);
  if (iova < 0) {
    pages.freePages(pa, order);
    return -ENOMEM;
  }
  const r = iommuMap(domain, iova, pa, len, dmaDirectionToProt(DMA_BIDIRECTIONAL, coherentOf(dev, d)));
  if (r < 0) {
    iovad.freeIova(iova / iovad.granule, len / iovad.granule);
    pages.freePages(pa, order);
    return r;
  }
  d.maps.add(iova, size, DMA_KIND_COHERENT, DMA_BIDIRECTIONAL, domain, iova, len, pa, order);
  return { cpuPa: pa, dmaAddr: iova, size };
}

/** dma_free_coherent: 0, or -EINVAL (nothing changes) unless it matches a live buffer of `dev`. */
export function dmaFreeCoherent(dev: Device, size: number, cpuPa: number, dmaAddr: number): number {
  if (!validDevice(dev) || typeof dmaAddr !== 'number') return -EINVAL;
  const d = dma(dev);
  const slot = d.maps.find(dmaAddr, DMA_KIND_COHERENT, size, cpuPa);
  if (slot < 0) return -EINVAL;
  const domain = d.maps.domainAt(slot);
  const iovaStart = d.maps.iovaStartAt(slot);
  const iovaLen = d.maps.iovaLenAt(slot);
  const order = d.maps.orderAt(slot);
  d.maps.removeAt(slot);
  if (domain) releaseRun(dev, d, domain, iovaStart, iovaLen);
  dev.core.kernel.pages.freePages(cpuPa, order);
  return 0;
}

/** dma-debug's view of `dev`: its live mappings, by DMA address. */
export function dmaDebugEntries(dev: Device): DmaDebugEntry[] {
  const d = devDma.get(dev);
  if (!d) return [];
  const out: DmaDebugEntry[] = [];
  d.maps.forEach((dmaAddr, size, kind, dir, iommu) =>
    out.push({ kind: kind === DMA_KIND_COHERENT ? 'coherent' : 'single', dmaAddr, size, dir: dir as DmaDataDirection, iommu }),
  );
  for (const m of d.sgLists.values()) out.push({ kind: 'sg', dmaAddr: m.dmaAddr, size: m.size, dir: m.dir, iommu: m.domain !== null });
  return out.sort((a, b) => a.dmaAddr - b.dmaAddr || a.size - b.size);
}
