/**
 * DMA on behalf of the real masters of a tree (UFS, USB, SDHCI, display, video, ...): devices
 * with an IOMMU group on a bound SMMU but no device model of their own. For each, the kernel's
 * DMA API maps two buffers for the device as its driver would; the CPU fills the first; the
 * board's bus master port for the device (packages/hw BusMasterPort: the device's stream ID
 * through the SMMU model) reads it at the returned IOVA and writes a transformed copy to the
 * second; the CPU checks the bytes; after the unmap, a read at the old IOVA must fault in the
 * SMMU model (and the SMMU driver logs it as Linux does). A device whose default domain is an
 * identity (bypass) domain is checked the same way with physical addresses and counted as
 * bypass; devices in a blocking group or without a domain are skipped with the reason.
 */
import { PciEcamHost, QcomIommu, SmmuV2, SmmuV3, type Board, type BusMasterPort } from '@gki/hw';
import {
  DMA_BIDIRECTIONAL,
  PCI_COMMAND,
  PCI_COMMAND_MASTER,
  PciDev,
  pciClearMaster,
  pciReadConfigWord,
  pciSetMaster,
  DMA_FROM_DEVICE,
  DMA_TO_DEVICE,
  dmaMapSingle,
  dmaMappingError,
  dmaUnmapSingle,
  type Device,
  type Kernel,
} from '@gki/kernel';
import type { FaultRecord } from './workloads.js';

/** Port status values (BusMasterPort), spelled out for messages. */
const PORT_STATUS = ['ok', 'fault', 'bus error', 'stalled', 'terminated without abort', 'not issued (bus mastering disabled)'] as const;

export interface RealDmaOptions {
  /** At most this many masters (default: all). */
  readonly maxMasters?: number;
  /** Bytes per buffer (default 0x1340: the buffers cross a page boundary). */
  readonly len?: number;
}

export interface RealDmaResult {
  /** Masters whose DMA went through a translating domain and checked out. */
  readonly translated: number;
  /** Masters the driver left in an identity (bypass) domain, checked with physical addresses. */
  readonly bypass: number;
  /** PCI functions with no IOMMU (their requester ID outside every iommu-map entry): dma-direct, checked with physical addresses. */
  readonly untranslated: number;
  readonly skipped: number;
  readonly failed: number;
  /** Bytes the ports read and wrote through the SMMU models. */
  readonly bytes: number;
  /** After-unmap accesses that faulted as they must. */
  readonly faultsSeen: number;
  /** Further stream IDs (more iommus entries, SMR-mask variants) checked to reach the same mapping. */
  readonly streams: number;
  readonly ops: number;
  readonly lines: string[];
  readonly problems: string[];
  readonly faults: FaultRecord[];
  readonly windows: [number, number][];
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}

/** The number of faults an SMMU model has recorded (context + global for v2, events for v3). */
function modelFaults(m: unknown): number {
  if (m instanceof SmmuV2) return m.stats.contextFaults + m.stats.globalFaults + m.stats.multiFaults;
  if (m instanceof SmmuV3) return m.stats.events + m.stats.eventsLost + m.stats.eventsDropped;
  if (m instanceof QcomIommu) return m.stats.contextFaults + m.stats.globalFaults + m.stats.multiFaults;
  return 0;
}

interface Candidate {
  readonly dev: Device;
  /** The IOMMU device's name; null for a PCI function that has none (dma-direct). */
  readonly iommu: string | null;
  /** Its group's domain type; 'none' for a PCI function without an IOMMU. */
  readonly domainType: string | null;
  /** The device-tree path (a PCI function without a node of its own: host path / bus:dev.fn). */
  readonly path: string;
}

function pciPath(dev: PciDev): string {
  const b = (n: number) => n.toString(16).padStart(2, '0');
  return dev.ofNode?.fullName ?? `${dev.host.node.fullName}/${b(dev.busNr)}:${b(dev.devfn >>> 3)}.${dev.devfn & 7}`;
}

/**
 * Devices with an IOMMU group on a bound IOMMU, without a model of their own, in registration
 * order; then the enumerated PCI functions of modelled host bridges that have no IOMMU at all.
 */
function candidates(kernel: Kernel, board: Board): Candidate[] {
  const snap = kernel.iommu.snapshot();
  const devs = new Map(kernel.drivers.allDevices().map((d) => [d.name, d]));
  const out: Candidate[] = [];
  for (const m of snap.masters) {
    const dev = devs.get(m.dev);
    if (!dev || m.group === null || m.iommu === null) continue;
    if (!(dev instanceof PciDev)) {
      if (!dev.ofNode) continue;
      if (board.models.has(dev.ofNode.fullName)) continue; // a modelled device is its own master (DMA engines, GPUs)
    }
    if (devs.get(m.iommu)?.state !== 'bound') continue;
    const g = snap.groups.find((x) => x.id === m.group);
    const d = snap.domains.find((x) => x.id === g?.domain);
    out.push({ dev, iommu: m.iommu, domainType: d?.type ?? null, path: dev instanceof PciDev ? pciPath(dev) : dev.ofNode!.fullName });
  }
  for (const dev of kernel.drivers.allDevices()) {
    if (!(dev instanceof PciDev) || kernel.iommu.groupOf(dev) || kernel.iommu.fwspec(dev)) continue;
    const host = board.models.get(dev.host.node.fullName);
    if (!(host instanceof PciEcamHost) || host.functionAt(dev.rid)?.iommu !== '') continue; // a path through an IOMMU the kernel does not use
    out.push({ dev, iommu: null, domainType: 'none', path: pciPath(dev) });
  }
  return out;
}

/** The board's port for a candidate: a PCI function's own (through its host's iommu-map), else the node's. */
function portOf(board: Board, c: Candidate): BusMasterPort | undefined {
  if (c.dev instanceof PciDev) return board.masterPortForRid(c.dev.host.node.fullName, c.dev.rid);
  return board.masterPort(c.path);
}

/**
 * What a PCI driver does before DMA (pci_set_master); returns the undo (pci_clear_master when
 * the bit was clear before), a no-op for other devices.
 */
function enableMastering(dev: Device): () => void {
  if (!(dev instanceof PciDev)) return () => {};
  const was = (pciReadConfigWord(dev, PCI_COMMAND) & PCI_COMMAND_MASTER) !== 0;
  pciSetMaster(dev);
  return was ? () => {} : () => pciClearMaster(dev);
}

/** Fills `b` with a pattern that differs per device and position. */
function pattern(b: Uint8Array, seed: number): void {
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
}

/** What the device "does" to the data: each byte complemented and rotated, so a plain copy would not pass. */
function transform(b: Uint8Array): void {
  for (let i = 0; i < b.length; i++) {
    const v = ~b[i]! & 0xff;
    b[i] = ((v << 3) | (v >>> 5)) & 0xff;
  }
}

export function runRealMasters(kernel: Kernel, board: Board, workload: string, opts: RealDmaOptions = {}): RealDmaResult {
  const len = opts.len ?? 0x1340;
  const max = opts.maxMasters ?? Infinity;
  const lines: string[] = [];
  const problems: string[] = [];
  const faults: FaultRecord[] = [];
  const windows: [number, number][] = [];
  let translated = 0;
  let bypass = 0;
  let untranslated = 0;
  let skipped = 0;
  let failed = 0;
  let bytes = 0;
  let faultsSeen = 0;
  let streams = 0;
  let ops = 0;
  const mem = board.mem;
  const src = new Uint8Array(len);
  const got = new Uint8Array(len);
  const back = new Uint8Array(len);
  let n = 0;
  for (const c of candidates(kernel, board)) {
    if (n >= max) break;
    const dev = c.dev;
    const path = c.path;
    if (c.domainType === null || c.domainType === 'blocked') {
      skipped++;
      lines.push(`${dev.name}: skipped: its group is ${c.domainType === null ? 'attached to no domain' : 'in a blocking domain'} (no DMA allowed)`);
      continue;
    }
    if (c.domainType !== 'dma' && c.domainType !== 'identity' && c.domainType !== 'none') {
      skipped++;
      lines.push(`${dev.name}: skipped: its group is attached to a ${c.domainType} domain a driver manages (not the DMA API's)`);
      continue;
    }
    let port: BusMasterPort | undefined;
    try {
      port = portOf(board, c);
    } catch (e) {
      problems.push(`${dev.name}: no bus master port: ${e instanceof Error ? e.message : String(e)}`);
      failed++;
      continue;
    }
    if (!port) {
      skipped++;
      lines.push(`${dev.name}: skipped: its IOMMU ${c.iommu ?? '(none)'} has no model on this board`);
      continue;
    }
    n++;
    const iommuName = c.iommu ?? 'no IOMMU';
    const order = 1;
    const srcPa = kernel.pages.allocPages(order);
    const dstPa = kernel.pages.allocPages(order);
    if (srcPa < 0 || dstPa < 0) {
      if (srcPa >= 0) kernel.pages.freePages(srcPa, order);
      if (dstPa >= 0) kernel.pages.freePages(dstPa, order);
      problems.push(`${dev.name}: alloc_pages(${order}) failed`);
      failed++;
      continue;
    }
    // offsets inside the pages, so the buffers cross a page boundary and keep their granule offset
    const sp = srcPa + 0x2c0;
    const dp = dstPa + 0x180;
    const fail = (why: string) => {
      problems.push(`${dev.name} (${path}, ${c.iommu ? `stream ${hex(port!.streamId)} on ${c.iommu}` : 'no IOMMU'}): ${why}`);
      failed++;
    };
    pattern(src, n + dev.name.length);
    mem.writeBytes(sp, src);
    mem.zero(dp, len);
    const sDma = dmaMapSingle(dev, sp, len, DMA_TO_DEVICE);
    const dDma = dmaMapSingle(dev, dp, len, DMA_FROM_DEVICE);
    ops += 2;
    const done = () => {
      kernel.pages.freePages(srcPa, order);
      kernel.pages.freePages(dstPa, order);
    };
    if (dmaMappingError(dev, sDma) || dmaMappingError(dev, dDma)) {
      if (!dmaMappingError(dev, sDma)) dmaUnmapSingle(dev, sDma, len, DMA_TO_DEVICE);
      if (!dmaMappingError(dev, dDma)) dmaUnmapSingle(dev, dDma, len, DMA_FROM_DEVICE);
      done();
      fail('dma_map_single failed');
      continue;
    }
    const identity = c.domainType === 'identity' || c.domainType === 'none';
    let ok = true;
    const restoreMaster = enableMastering(dev);
    const rs = port.read(sDma, got);
    ops++;
    if (rs !== 0) {
      ok = false;
      fail(`device read of ${len} bytes at DMA address ${hex(sDma)}: ${PORT_STATUS[rs]} at ${hex(port.lastFault?.address ?? sDma)}`);
    } else {
      bytes += len;
      let bad = -1;
      for (let i = 0; i < len; i++) if (got[i] !== src[i]) { bad = i; break; }
      if (bad >= 0) {
        ok = false;
        fail(`device read at DMA address ${hex(sDma)} gave other bytes than the CPU wrote (first at +${hex(bad)})`);
      } else {
        // every other stream ID of the device (further iommus entries, and IDs its SMR masks
        // also match) must reach the same mapping: the driver programmed them all into its group
        for (let i = 1; i < port.streamIds.length && ok; i++) {
          const probe = back.subarray(0, 64);
          const r2 = port.useStream(i).read(sDma, probe);
          port.useStream(0);
          ops++;
          const what = port.maskVariants.includes(port.streamIds[i]!) ? 'SMR-mask variant' : 'stream';
          if (r2 !== 0) {
            ok = false;
            fail(`device read through its ${what} ${hex(port.streamIds[i]!)} at ${hex(sDma)}: ${PORT_STATUS[r2]}`);
          } else if (probe.some((b, j) => b !== src[j])) {
            ok = false;
            fail(`device read through its ${what} ${hex(port.streamIds[i]!)} at ${hex(sDma)} gave other bytes than the CPU wrote`);
          } else {
            streams++;
            bytes += probe.length;
          }
        }
        transform(got);
        const ws = ok ? port.write(dDma, got) : -1;
        ops++;
        if (ws === -1) {
          // a stream check failed above
        } else if (ws !== 0) {
          ok = false;
          fail(`device write of ${len} bytes at DMA address ${hex(dDma)}: ${PORT_STATUS[ws]} at ${hex(port.lastFault?.address ?? dDma)}`);
        } else {
          bytes += len;
          const cpu = mem.readBytes(dp, len);
          back.set(src);
          transform(back);
          let bad2 = -1;
          for (let i = 0; i < len; i++) if (cpu[i] !== back[i]) { bad2 = i; break; }
          if (bad2 >= 0) {
            ok = false;
            fail(`the CPU does not see the device's write at ${hex(dp)} (first difference at +${hex(bad2)})`);
          }
        }
      }
    }
    const u1 = dmaUnmapSingle(dev, sDma, len, DMA_TO_DEVICE);
    const u2 = dmaUnmapSingle(dev, dDma, len, DMA_FROM_DEVICE);
    ops += 2;
    if (identity) restoreMaster();
    if (u1 !== 0 || u2 !== 0) {
      ok = false;
      fail(`dma_unmap_single: ${u1}, ${u2}`);
    }
    let faultNote = '';
    if (!identity && ok) {
      // the IOVA is gone: the device's next access there must fault in the SMMU model
      const model = board.models.get(port.iommu);
      const before = modelFaults(model);
      const from = kernel.log.all().length;
      const rs2 = port.read(sDma, got.subarray(0, 64));
      ops++;
      windows.push([from, kernel.log.all().length]);
      const recorded = modelFaults(model) - before;
      const logged = kernel.log.all().slice(from).some((r) => /fault/i.test(r.msg));
      if (rs2 === 0) {
        ok = false;
        fail(`a device read at ${hex(sDma)} after dma_unmap_single still translated (stale TLB or mapping)`);
      } else if (recorded === 0) {
        ok = false;
        fail(`a device read at ${hex(sDma)} after the unmap ended as "${PORT_STATUS[rs2]}" but the SMMU model recorded no fault`);
      } else {
        faultsSeen++;
        faultNote = `; read after unmap: ${PORT_STATUS[rs2]}, recorded by the SMMU model${logged ? ' and logged by its driver' : ''}`;
        faults.push({
          workload,
          device: dev.name,
          source: 'iommu',
          address: sDma,
          access: 'read',
          type: rs2 === 2 ? 'bus error' : 'translation fault',
          deliberate: true,
          handled: false,
          decoded: `bus master port read at IOVA ${hex(sDma)} after dma_unmap_single: ${PORT_STATUS[rs2]} (stream ${hex(port.streamId)} on ${iommuName})`,
        });
      }
    }
    if (!identity) restoreMaster();
    done();
    if (!ok) continue;
    if (c.domainType === 'none') {
      untranslated++;
      lines.push(`${dev.name}: no IOMMU (requester ID outside the host bridge's iommu-map): dma-direct, physical addresses ${hex(sDma)} -> ${hex(dDma)}, ${len} bytes read and ${len} written, checked`);
      continue;
    }
    if (identity) bypass++;
    else translated++;
    const more = port.streamIds.length > 1 ? ` (and ${port.streamIds.slice(1).map(hex).join(', ')} read back)` : '';
    lines.push(
      `${dev.name}: stream ${hex(port.streamId)}${more} on ${iommuName}, ${identity ? 'identity (bypass) domain: physical addresses' : 'DMA domain: IOVAs'} ${hex(sDma)} -> ${hex(dDma)}, ${len} bytes read and ${len} written through the SMMU model, checked${faultNote}`,
    );
  }
  return { translated, bypass, untranslated, skipped, failed, bytes, faultsSeen, streams, ops, lines, problems, faults, windows };
}

/** A real master the stress workload may use: a device on a DMA or identity domain and its port. */
export interface RealMasterTarget {
  readonly dev: Device;
  readonly port: BusMasterPort;
  readonly identity: boolean;
}

/** The real masters whose DMA the DMA API and the board's ports can drive now. */
export function realMasterTargets(kernel: Kernel, board: Board): RealMasterTarget[] {
  const out: RealMasterTarget[] = [];
  for (const c of candidates(kernel, board)) {
    if (c.domainType !== 'dma' && c.domainType !== 'identity' && c.domainType !== 'none') continue;
    let port: BusMasterPort | undefined;
    try {
      port = portOf(board, c);
    } catch {
      continue;
    }
    if (port) out.push({ dev: c.dev, port, identity: c.domainType !== 'dma' });
  }
  return out;
}

/**
 * One streaming DMA operation of the stress mix on a real master: `size` bytes at offset `off`
 * of a fresh block of 2^order pages mapped BIDIRECTIONAL; the CPU writes a pattern, the device
 * (its port) reads it and writes it back transformed, the CPU checks, the mapping goes. Returns
 * the bytes moved, or a problem.
 */
export function realStreamingOp(kernel: Kernel, t: RealMasterTarget, order: number, off: number, size: number, seed: number): number | string {
  const pa = kernel.pages.allocPages(order);
  if (pa < 0) return `alloc_pages(${order}): ${pa}`;
  const mem = kernel.board.mem;
  const buf = new Uint8Array(size);
  pattern(buf, seed);
  mem.writeBytes(pa + off, buf);
  const dma = dmaMapSingle(t.dev, pa + off, size, DMA_BIDIRECTIONAL);
  const restoreMaster = enableMastering(t.dev);
  let res: number | string;
  if (dmaMappingError(t.dev, dma)) res = `${t.dev.name}: dma_map_single of ${size} bytes failed`;
  else {
    const got = new Uint8Array(size);
    const rs = t.port.read(dma, got);
    if (rs !== 0) res = `${t.dev.name}: device read of ${size} bytes at ${hex(dma)} (stream ${hex(t.port.streamId)}): ${PORT_STATUS[rs]}`;
    else if (got.some((b, i) => b !== buf[i])) res = `${t.dev.name}: device read at ${hex(dma)} gave other bytes than the CPU wrote`;
    else {
      transform(got);
      const ws = t.port.write(dma, got);
      if (ws !== 0) res = `${t.dev.name}: device write of ${size} bytes at ${hex(dma)}: ${PORT_STATUS[ws]}`;
      else {
        transform(buf);
        const cpu = mem.readBytes(pa + off, size);
        res = cpu.every((b, i) => b === buf[i]) ? 2 * size : `${t.dev.name}: the CPU does not see the device's write at ${hex(pa + off)}`;
      }
    }
    const u = dmaUnmapSingle(t.dev, dma, size, DMA_BIDIRECTIONAL);
    if (u !== 0 && typeof res === 'number') res = `${t.dev.name}: dma_unmap_single: ${u}`;
  }
  restoreMaster();
  kernel.pages.freePages(pa, order);
  return res;
}
