/**
 * Device-tree glue of the ECAM host bridge model (`pci-host-ecam-generic`, the compatible the
 * Arm FVP and the NXP LS1028A integrated-endpoint root complex use).
 *
 * PCI is discoverable: software finds functions by reading configuration space, so kernel
 * trees usually list none. The functions the model puts behind the bridge are, in order of
 * precedence:
 * - `gki,pci-endpoints = <rid vendor<<16|device class-code>, ...` on the host node (this
 *   project's property; an empty one means no function at all);
 * - else the host's child nodes with a PCI `reg` (phys.hi bits 23:16 bus, 15:11 device, 10:8
 *   function), whatever their `status` (the silicon is there; a disabled status only tells the
 *   OS not to drive it), with IDs from a `pciVVVV,DDDD` compatible and the class from a
 *   `pciclass,CCSSPP` one (a node without gets the test endpoint's IDs, or class 0xff0000);
 * - else one DMA-capable test endpoint at 00:01.0 (PCI_TEST_ENDPOINT_*).
 *
 * Each function's DMA goes through the IOMMU that the host's `iommu-map` (after
 * `iommu-map-mask`) names for its requester ID, with the stream ID that map gives; a requester
 * ID outside every entry (or a host without `iommu-map`) reaches memory untranslated. The model
 * reads the map itself, in its `link` pass, once the IOMMU models exist.
 */
import type { Board, ModelFactory } from '../../board.js';
import { compatibleOf, getProp, propCells, walkTree } from '../../fdt/read.js';
import { FdtError, type FdtNode, type FdtTree } from '../../fdt/types.js';
import { BusMasterPort, createBusMasterPortForStream, mapRequesterId } from '../bus-master-port.js';
import { PciFunction, pciBdf, type PciFunctionSpec } from './function.js';
import { ECAM_BUS_SHIFT, PciEcamHost } from './host.js';

/** IDs of the model's built-in test endpoint (not a registered vendor: this project's own). */
export const PCI_TEST_ENDPOINT_VENDOR = 0xabcd;
export const PCI_TEST_ENDPOINT_DEVICE = 0x0dea;
/** Class code 0xff0000: "device does not fit any defined class". */
export const PCI_TEST_ENDPOINT_CLASS = 0xff0000;
/** Requester ID of the default endpoint: 00:01.0. */
export const PCI_TEST_ENDPOINT_RID = 0x08;

const ID_COMPAT = /^pci([0-9a-f]{1,4}),([0-9a-f]{1,4})$/i;
const CLASS_COMPAT = /^pciclass,([0-9a-f]{6})$/i;

function specFromNode(node: FdtNode, path: string, rid: number): PciFunctionSpec {
  let vendor = PCI_TEST_ENDPOINT_VENDOR;
  let device = PCI_TEST_ENDPOINT_DEVICE;
  let classCode = PCI_TEST_ENDPOINT_CLASS;
  for (const c of compatibleOf(node, path)) {
    const id = ID_COMPAT.exec(c);
    if (id && vendor === PCI_TEST_ENDPOINT_VENDOR && device === PCI_TEST_ENDPOINT_DEVICE) {
      vendor = parseInt(id[1]!, 16);
      device = parseInt(id[2]!, 16);
    }
    const cl = CLASS_COMPAT.exec(c);
    if (cl) classCode = parseInt(cl[1]!, 16);
  }
  return { rid, vendor, device, classCode, source: path };
}

/** The functions the host node describes (see the file comment). */
export function pciFunctionSpecs(node: FdtNode, path: string): PciFunctionSpec[] {
  const own = propCells(node, 'gki,pci-endpoints', path);
  if (own) {
    if (own.length % 3) throw new FdtError(-1, `gki,pci-endpoints has ${own.length} cells, not triples of <rid vendor<<16|device class>`, path);
    const out: PciFunctionSpec[] = [];
    for (let i = 0; i < own.length; i += 3) {
      const rid = own[i]!;
      if (rid > 0xffff) throw new FdtError(-1, `gki,pci-endpoints: requester ID 0x${rid.toString(16)} is not 16 bits`, path);
      const vd = own[i + 1]!;
      if ((vd & 0xffff) === 0xffff || vd >>> 16 === 0 || vd === 0) throw new FdtError(-1, `gki,pci-endpoints: 0x${vd.toString(16)} is not a valid vendor<<16|device pair`, path);
      out.push({ rid, vendor: vd & 0xffff, device: vd >>> 16, classCode: own[i + 2]! & 0xffffff, source: 'gki,pci-endpoints' });
    }
    return out;
  }
  const children: PciFunctionSpec[] = [];
  for (const child of node.children) {
    const reg = getProp(child, 'reg');
    if (!reg) continue;
    const cpath = `${path}/${child.name}`;
    const cells = propCells(child, 'reg', cpath)!;
    if (cells.length < 3 || cells.length % 5 !== 0) continue; // not a PCI address (phys.hi phys.mid phys.lo size.hi size.lo)
    children.push(specFromNode(child, cpath, (cells[0]! >>> 8) & 0xffff));
  }
  if (children.length > 0) return children;
  return [{ rid: PCI_TEST_ENDPOINT_RID, vendor: PCI_TEST_ENDPOINT_VENDOR, device: PCI_TEST_ENDPOINT_DEVICE, classCode: PCI_TEST_ENDPOINT_CLASS, source: 'default' }];
}

/**
 * The `pci-host-ecam-generic` factory: maps the ECAM window (the first `reg`, whole buses,
 * at most as many as `bus-range` (default 0-255) covers) and creates the functions.
 */
export const createPciEcamModel: ModelFactory = (board, node, regs, _irqs, ctx) => {
  const win = regs[0];
  if (!win) throw new FdtError(-1, 'pci-host-ecam-generic needs a CPU-addressable reg (the ECAM window)', ctx.path);
  let range = propCells(node, 'bus-range', ctx.path);
  if (range && (range.length !== 2 || range[0]! > range[1]! || range[1]! > 0xff)) {
    // as the kernel does with a bus-range it cannot parse: buses 0-255
    board.notes.push({ level: 'warn', source: 'PCI', message: `${ctx.path}: bus-range is not <first last> with first <= last <= 0xff; buses 0-255 assumed` });
    range = undefined;
  }
  const busStart = range?.[0] ?? 0;
  let busEnd = range?.[1] ?? 0xff;
  const buses = Math.floor(win.size / (1 << ECAM_BUS_SHIFT));
  if (buses < 1) throw new FdtError(-1, `ECAM window of 0x${win.size.toString(16)} bytes holds no whole bus`, ctx.path);
  if (busEnd - busStart + 1 > buses) busEnd = busStart + buses - 1;
  const host = new PciEcamHost({ name: node.name, path: ctx.path, busStart, busEnd, windowSize: (busEnd - busStart + 1) << ECAM_BUS_SHIFT });
  for (const spec of pciFunctionSpecs(node, ctx.path)) {
    try {
      host.addFunction(new PciFunction(spec));
    } catch (e) {
      if (spec.source === 'gki,pci-endpoints') throw new FdtError(-1, e instanceof Error ? e.message : String(e), ctx.path);
      board.notes.push({ level: 'warn', source: 'PCI', message: `${ctx.path}: ${e instanceof Error ? e.message : String(e)}; function left out` });
    }
  }
  try {
    board.bus.map(win.address, host.windowSize, host);
  } catch (e) {
    // a window over RAM or another device's registers: the bridge is left unmodelled, the board still boots
    if (!(e instanceof RangeError)) throw e;
    board.notes.push({ level: 'warn', source: 'PCI', message: `${ctx.path}: ECAM window not modelled: ${e.message}` });
    return undefined;
  }
  return host;
};

/** Gives each function of `host` its DMA path: the port of its IOMMU and stream ID, or an untranslated one. */
export function linkPciFunctions(board: Board, tree: FdtTree, host: PciEcamHost): void {
  for (const fn of host.functions()) {
    if (fn.port) continue;
    const m = mapRequesterId(tree, host.path, fn.rid);
    const portPath = `${host.path}/${pciBdf(fn.rid)}`;
    if (m) {
      fn.iommu = m.iommu;
      fn.streamId = m.streamId;
      fn.port = createBusMasterPortForStream(board, portPath, m.iommu, m.streamId);
    } else {
      fn.port = new BusMasterPort(board.mem, { path: portPath, streamIds: [fn.rid], iommu: '' });
    }
    if (fn.port) fn.port.enabled = fn.busMasterEnabled;
  }
}

createPciEcamModel.link = (board, tree) => {
  walkTree(tree, (_n, path) => {
    const host = board.models.get(path);
    if (host instanceof PciEcamHost) linkPciFunctions(board, tree, host);
    return undefined;
  });
};
