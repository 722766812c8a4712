/**
 * A bus master port: the board's test probe for a device that has an IOMMU specifier (`iommus`,
 * or a requester ID reached through a host bridge's `iommu-map`) but no device model of its
 * own (a UFS host, a USB controller, a display engine, a PCIe function...). It has no MMIO
 * registers, no interrupt and no driver: the board (or a test, or the CLI's workloads) issues
 * reads and writes on the device's behalf, and they go through the IOMMU model in front of it
 * with that device's stream ID, exactly as a DmaMaster's transfers do. Whatever stream table,
 * SMR/S2CR or context bank the IOMMU driver programmed for the real device decides where the
 * bytes land, or that the access faults.
 *
 * Accesses are split at 4 KiB boundaries and each piece is translated on its own. The port
 * keeps no kernel state and reads nothing but the device tree and the IOMMU model.
 */
import type { Board } from '../board.js';
import { phandleArgsList } from '../fdt/address.js';
import { findByPhandleWithPath, findNode, hasProp, propCells, propU32 } from '../fdt/read.js';
import { FdtError, type FdtTree } from '../fdt/types.js';
import { PAGE_SIZE, PhysMem } from '../mem.js';
import type { DmaTranslation, DmaTranslator, DmaTranslatorParts } from './dma-master.js';
import { SmmuV2 } from './smmu-v2/smmu.js';
import { SmmuV3 } from './smmu-v3/smmu.js';
import { QcomIommu } from './qcom-iommu/iommu.js';

/** Result of a port access: every byte moved. */
export const PORT_OK = 0;
/** The IOMMU aborted a piece (a translation, permission or configuration fault). */
export const PORT_FAULT = 1;
/** The address (or what it translated to) is outside RAM. */
export const PORT_BUS_ERROR = 2;
/** The IOMMU stalled a piece and nobody resolved it during the access; the access stopped there. */
export const PORT_STALLED = 3;
/** The IOMMU terminated a piece without an abort (reads gave zeros, writes were dropped). */
export const PORT_TERMINATED = 4;
/** The device may not master the bus now (a PCI function whose bus master enable bit is clear): nothing was issued. */
export const PORT_DISABLED = 5;

export type PortStatus = typeof PORT_OK | typeof PORT_FAULT | typeof PORT_BUS_ERROR | typeof PORT_STALLED | typeof PORT_TERMINATED | typeof PORT_DISABLED;

/** The last access that did not complete normally. */
export interface PortFault {
  readonly status: PortStatus;
  /** The bus address (IOVA) of the piece. */
  readonly address: number;
  readonly write: boolean;
}

const TWO_POW_32 = 2 ** 32;
const MAX_BUS_ADDR = 2 ** 52;

export interface BusMasterPortOptions {
  /** The device-tree path of the device the port stands for. */
  readonly path: string;
  /** The stream IDs the device's specifier names for its IOMMU (the first is the one its transactions carry). */
  readonly streamIds: readonly number[];
  /** The IOMMU node the specifier names ('' for a device with no IOMMU in its path: untranslated). */
  readonly iommu: string;
  /** Which of `streamIds` are SMR-mask variants. */
  readonly maskVariants?: readonly number[];
}

export class BusMasterPort {
  readonly name: string;
  readonly path: string;
  readonly iommu: string;
  readonly streamIds: readonly number[];
  /** Stream IDs added as SMR-mask variants of a specifier's ID (not named by the tree itself). */
  readonly maskVariants: readonly number[];
  /** One translation hook per stream ID (the IOMMU installs them); `active` picks the one used. */
  private readonly lanes: { fn: DmaTranslator | undefined; parts: DmaTranslatorParts | undefined }[];
  private active = 0;
  private translator: DmaTranslator | undefined;
  private translatorParts: DmaTranslatorParts | undefined;
  private readonly out: Required<DmaTranslation> = { pa: 0, stalled: false, sink: false };
  private running = false;
  private pendingResume = 0;
  /** The RAM region the last piece landed in (checked inline before asking PhysMem). */
  private ramBase = 0;
  private ramEnd = 0;

  /** Counters for tests and reports. */
  reads = 0;
  writes = 0;
  bytesRead = 0;
  bytesWritten = 0;
  faults = 0;
  lastFault: PortFault | undefined;
  /**
   * Whether the device may master the bus. A PCI function clears it while its command
   * register's bus master enable bit is clear; accesses then end as PORT_DISABLED at once.
   */
  enabled = true;

  constructor(
    private readonly mem: PhysMem,
    opts: BusMasterPortOptions,
  ) {
    if (opts.streamIds.length === 0) throw new RangeError(`${opts.path}: a bus master port needs a stream ID`);
    this.path = opts.path;
    this.name = opts.path;
    this.iommu = opts.iommu;
    this.streamIds = [...opts.streamIds];
    this.maskVariants = [...(opts.maskVariants ?? [])];
    this.lanes = this.streamIds.map(() => ({ fn: undefined, parts: undefined }));
  }

  /** The stream ID the device's transactions carry by default (the specifier's first). */
  get streamId(): number {
    return this.streamIds[0]!;
  }

  /** The stream ID the next accesses carry. */
  get activeStreamId(): number {
    return this.streamIds[this.active]!;
  }

  /**
   * Makes the next accesses carry `streamIds[i]` (a device with several stream IDs, or an ID an
   * SMR mask also matches). Throws RangeError for an index the port does not have.
   */
  useStream(i: number): this {
    if (!Number.isInteger(i) || i < 0 || i >= this.streamIds.length) throw new RangeError(`${this.name}: no stream index ${i}`);
    this.active = i;
    const l = this.lanes[i]!;
    this.translator = l.fn;
    this.translatorParts = l.parts;
    return this;
  }

  /** Installed by the IOMMU model the port is attached to (as for a DmaMaster): the hook of the first stream ID. */
  setTranslator(fn: DmaTranslator | undefined, parts?: DmaTranslatorParts): void {
    this.setLane(0, fn, parts);
  }

  /** @internal The attachment of stream `i` (what an IOMMU model sees as a master of its own). */
  lane(i: number): { readonly name: string; readonly streamId: number; setTranslator(fn: DmaTranslator | undefined, parts?: DmaTranslatorParts): void } {
    return { name: `${this.name}#sid-${this.streamIds[i]!.toString(16)}`, streamId: this.streamIds[i]!, setTranslator: (fn, parts) => this.setLane(i, fn, parts) };
  }

  private setLane(i: number, fn: DmaTranslator | undefined, parts: DmaTranslatorParts | undefined): void {
    const l = this.lanes[i]!;
    l.fn = fn;
    l.parts = fn === undefined ? undefined : parts;
    if (i === this.active) {
      this.translator = l.fn;
      this.translatorParts = l.parts;
    }
  }

  get translated(): boolean {
    return this.translator !== undefined;
  }

  /**
   * Called by an IOMMU that stalled one of the port's transactions. Only a resolution that
   * arrives while the translation is still running (the IOMMU's fault interrupt handled at
   * once) continues the access; a later one finds the access already ended as PORT_STALLED.
   */
  stallResolved(terminate: boolean): void {
    if (this.running) this.pendingResume = terminate ? 2 : 1;
  }

  /** Reads `dst.length` bytes at bus address `iova` into `dst`. */
  read(iova: number, dst: Uint8Array): PortStatus {
    this.checkAddress(iova);
    this.reads++;
    return this.access(iova, dst, false);
  }

  /** Writes `src` at bus address `iova`. */
  write(iova: number, src: Uint8Array): PortStatus {
    this.checkAddress(iova);
    this.writes++;
    return this.access(iova, src, true);
  }

  /** A RangeError, before anything is counted, for what is not a bus address (a BigInt named as one). */
  private checkAddress(iova: number): void {
    if (Number.isSafeInteger(iova) && iova >= 0) return;
    const what = typeof iova === 'bigint' ? `${String(iova)}n (a BigInt; bus addresses are numbers)` : String(iova);
    throw new RangeError(`${this.name}: ${what} is not a bus address`);
  }

  private access(iova: number, buf: Uint8Array, write: boolean): PortStatus {
    if (!this.enabled) {
      this.lastFault = { status: PORT_DISABLED, address: iova, write };
      return PORT_DISABLED;
    }
    const len = buf.length;
    let done = 0;
    let result: PortStatus = PORT_OK;
    while (done < len) {
      const a = iova + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      const st = this.resolve(a, n, write);
      if (st === PORT_TERMINATED) {
        if (!write) buf.fill(0, done, done + n);
        result = PORT_TERMINATED;
      } else if (st !== PORT_OK) {
        this.faults++;
        this.lastFault = { status: st, address: a, write };
        return st;
      } else {
        const pa = this.out.pa;
        if (write) this.writePhys(pa, buf, done, n);
        else this.readPhys(pa, buf, done, n);
      }
      done += n;
    }
    if (write) this.bytesWritten += len;
    else this.bytesRead += len;
    if (result === PORT_TERMINATED) this.lastFault = { status: result, address: iova, write };
    return result;
  }

  private resolve(addr: number, n: number, write: boolean): PortStatus {
    const out = this.out;
    out.sink = false;
    if (addr + n > MAX_BUS_ADDR) return PORT_BUS_ERROR;
    const tr = this.translator;
    if (tr) {
      const parts = this.translatorParts;
      const hi = Math.floor(addr / TWO_POW_32);
      const lo = (addr - hi * TWO_POW_32) | 0;
      for (;;) {
        out.stalled = false;
        this.pendingResume = 0;
        this.running = true;
        let ok: boolean;
        try {
          ok = parts !== undefined ? parts(this.activeStreamId, hi, lo, write, out) : tr(this.activeStreamId, addr, write, out);
        } finally {
          this.running = false;
        }
        if (ok) break;
        if (!out.stalled) return PORT_FAULT;
        const p = this.pendingResume;
        this.pendingResume = 0;
        if (p === 1) continue;
        if (p === 2) return PORT_FAULT;
        return PORT_STALLED;
      }
      if (out.sink) return PORT_TERMINATED;
    } else {
      out.pa = addr;
    }
    const pa = out.pa;
    if (!Number.isSafeInteger(pa) || pa < 0) return PORT_BUS_ERROR;
    if (pa >= this.ramBase && pa + n <= this.ramEnd) return PORT_OK;
    for (const r of this.mem.regions) {
      if (pa >= r.base && pa + n <= r.base + r.size) {
        this.ramBase = r.base;
        this.ramEnd = r.base + r.size;
        return PORT_OK;
      }
    }
    return PORT_BUS_ERROR;
  }

  // The byte loops run on the piece's offset in its chunk (an int): a per-byte address above
  // 2^31 would be a double, boxed wherever V8 does not inline the index helper.
  private readPhys(pa: number, dst: Uint8Array, at: number, n: number): void {
    const base = pa - (pa % PAGE_SIZE);
    const hi = Math.floor(base / TWO_POW_32);
    const c = this.mem.peekChunkParts(hi, (base - hi * TWO_POW_32) | 0);
    const start = PhysMem.wordIndex(pa) * 4 + (pa & 3);
    for (let i = 0; i < n; i++) {
      const o = start + i;
      dst[at + i] = (c[o >>> 2]! >>> ((o & 3) * 8)) & 0xff;
    }
  }

  private writePhys(pa: number, src: Uint8Array, at: number, n: number): void {
    const c = this.mem.chunk(pa - (pa % PAGE_SIZE));
    const start = PhysMem.wordIndex(pa) * 4 + (pa & 3);
    for (let i = 0; i < n; i++) {
      const o = start + i;
      const wi = o >>> 2;
      const sh = (o & 3) * 8;
      c[wi] = ((c[wi]! & ~(0xff << sh)) | (src[at + i]! << sh)) >>> 0;
    }
    this.mem.touch(pa, n);
  }
}

/** An IOMMU model a port can be attached to, with the stream IDs of the specifier. */
function attach(board: Board, port: BusMasterPort, iommu: unknown): boolean {
  if (iommu instanceof SmmuV2) {
    iommu.attachMaster(port, port.streamIds);
    for (let i = 1; i < port.streamIds.length; i++) iommu.attachMaster(port.lane(i), [port.streamIds[i]!]);
    return true;
  }
  if (iommu instanceof QcomIommu) {
    // the specifier's cell is a context bank: the stream the firmware routes to it
    iommu.attachMaster(port, port.streamIds);
    for (let i = 1; i < port.streamIds.length; i++) iommu.attachMaster(port.lane(i), [port.streamIds[i]!]);
    return true;
  }
  if (iommu instanceof SmmuV3) {
    iommu.attachMaster(port, port.streamId);
    for (let i = 1; i < port.streamIds.length; i++) iommu.attachMaster(port.lane(i), port.streamIds[i]!);
    return true;
  }
  void board;
  return false;
}

/**
 * The port for the device at `path`: its first `iommus` entry that names an IOMMU model of the
 * board (SMMUv2 or SMMUv3) gives the IOMMU and the stream ID (the first specifier cell; with
 * two cells the second is an SMR mask, not part of the ID the transactions carry; further
 * entries for the same IOMMU are recorded). Undefined when the node has no such entry. Throws
 * FdtError for a path that is not in the tree, a node that has a device model of its own (it
 * is its own master), or a malformed specifier.
 */
export function createBusMasterPort(board: Board, tree: FdtTree, path: string): BusMasterPort | undefined {
  const node = findNode(tree, path);
  if (!node) throw new FdtError(-1, 'no such node for a bus master port', path);
  if (board.models.has(path)) throw new FdtError(-1, 'the node has a device model of its own; it is its own bus master', path);
  if (!hasProp(node, 'iommus')) return undefined;
  const refs = phandleArgsList(tree, node, path, 'iommus', '#iommu-cells');
  for (const ref of refs) {
    const model = board.models.get(ref.path);
    if (!(model instanceof SmmuV2) && !(model instanceof SmmuV3) && !(model instanceof QcomIommu)) continue;
    const sids: number[] = [];
    const variants: number[] = [];
    for (const r of refs) {
      if (r.path !== ref.path) continue;
      if (r.args.length < 1) throw new FdtError(-1, `iommus entry for ${ref.path} has no stream ID cell`, path);
      if (!sids.includes(r.args[0]!)) sids.push(r.args[0]!);
    }
    if (model instanceof SmmuV2) {
      // a second cell is an SMR mask: the device may also issue the ID with the masked bits set
      for (const r of refs) {
        if (r.path !== ref.path || r.args.length < 2) continue;
        const v = (r.args[0]! | r.args[1]!) >>> 0;
        if (v !== r.args[0]! && v < 2 ** model.config.streamIdBits && !sids.includes(v) && !variants.includes(v)) variants.push(v);
      }
    }
    const port = new BusMasterPort(board.mem, { path, streamIds: [...sids, ...variants], iommu: ref.path, maskVariants: variants });
    try {
      attach(board, port, model);
    } catch (e) {
      if (e instanceof RangeError) throw new FdtError(-1, e.message, path);
      throw e;
    }
    return port;
  }
  return undefined;
}

/** Where a requester ID goes according to a host bridge's `iommu-map`. */
export interface RidMapping {
  /** The IOMMU node the matching entry names. */
  readonly iommu: string;
  /** The stream ID: the ID after `iommu-map-mask`, minus the entry's rid-base, plus its first specifier cell. */
  readonly streamId: number;
}

/**
 * Reads the host bridge's `iommu-map` (entries of rid-base, IOMMU phandle with as many
 * specifier cells as the target's `#iommu-cells`, and length) and `iommu-map-mask` (default
 * all ones) for requester ID `rid`, as the PCI IOMMU binding describes them. Returns the first
 * entry that covers the masked ID, null when the bridge has an `iommu-map` but no entry covers
 * it, undefined when it has no `iommu-map`. Throws FdtError for a malformed map or a RID that
 * is not 16 bits.
 */
export function mapRequesterId(tree: FdtTree, hostPath: string, rid: number): RidMapping | null | undefined {
  const node = findNode(tree, hostPath);
  if (!node) throw new FdtError(-1, 'no such host bridge node', hostPath);
  if (!Number.isInteger(rid) || rid < 0 || rid > 0xffff) throw new FdtError(-1, `requester ID ${rid} is not a 16-bit value`, hostPath);
  const cells = propCells(node, 'iommu-map', hostPath);
  if (!cells) return undefined;
  const mask = propU32(node, 'iommu-map-mask', hostPath) ?? 0xffffffff;
  const id = (rid & mask) >>> 0;
  let i = 0;
  while (i < cells.length) {
    if (i + 2 > cells.length) throw new FdtError(-1, 'iommu-map is truncated', hostPath);
    const ridBase = cells[i]!;
    const ph = cells[i + 1]!;
    const target = findByPhandleWithPath(tree, ph);
    if (!target) throw new FdtError(-1, `iommu-map refers to unknown phandle 0x${ph.toString(16)}`, hostPath);
    const nargs = propU32(target.node, '#iommu-cells', target.path);
    if (nargs === undefined) throw new FdtError(-1, `iommu-map: target ${target.path} has no '#iommu-cells'`, hostPath);
    const length = cells[i + 2 + nargs];
    if (length === undefined) throw new FdtError(-1, 'iommu-map is truncated', hostPath);
    if (nargs < 1) throw new FdtError(-1, `iommu-map entry for ${target.path} has no stream ID cell`, hostPath);
    if (id >= ridBase && id - ridBase < length) return { iommu: target.path, streamId: (cells[i + 2]! + (id - ridBase)) >>> 0 };
    i += 3 + nargs;
  }
  return null;
}

/**
 * A port for stream ID `streamId` on the IOMMU model at `iommu`, named `path`. Undefined when
 * that node has no SMMU model on the board. Throws FdtError when the model refuses the ID.
 */
export function createBusMasterPortForStream(board: Board, path: string, iommu: string, streamId: number): BusMasterPort | undefined {
  const model = board.models.get(iommu);
  if (!(model instanceof SmmuV2) && !(model instanceof SmmuV3) && !(model instanceof QcomIommu)) return undefined;
  const port = new BusMasterPort(board.mem, { path, streamIds: [streamId], iommu });
  try {
    attach(board, port, model);
  } catch (e) {
    if (e instanceof RangeError) throw new FdtError(-1, e.message, path);
    throw e;
  }
  return port;
}

/**
 * The port for requester ID `rid` below the host bridge at `hostPath` (a PCIe function): the
 * bridge's `iommu-map` (entries of rid-base, IOMMU phandle and its specifier, length) after
 * `iommu-map-mask` gives the IOMMU and the stream ID, rid - rid-base + the specifier's first
 * cell. Undefined when no entry covers the ID or its IOMMU is not a modelled SMMU.
 */
export function createBusMasterPortForRid(board: Board, tree: FdtTree, hostPath: string, rid: number): BusMasterPort | undefined {
  const m = mapRequesterId(tree, hostPath, rid);
  if (!m) return undefined;
  return createBusMasterPortForStream(board, `${hostPath}#rid-${rid.toString(16)}`, m.iommu, m.streamId);
}
