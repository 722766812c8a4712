import { FdtError, parseDtb, type FdtTree } from '@gki/hw';
import { EBUSY, EINVAL, ENODEV, EPROBE_DEFER, KernelError } from '../errno.js';
import type { Device } from '../driver/device.js';
import type { Driver, Resource } from '../driver/types.js';
import type { Kernel } from '../kernel.js';
import { ofAddressToResource, ofRegCount, ofTranslateAddress, ofGetAddress } from './address.js';
import { gicXlate, ofIrqFindParent, ofIrqParse, ofIrqSpecifierCount, ofGicStacked, ofIsGic, stackedXlate, type IrqXlate } from './irq.js';
import { OfTree, type OfNode } from './node.js';
import { ofDeviceIsAvailable, ofDeviceIsCompatible, ofMatchNode, ofPropertyReadStringArray, ofPropertyReadU32, type OfDeviceId } from './property.js';

/** Buses whose children of_platform_populate descends into (of_default_bus_match_table). */
export const OF_DEFAULT_BUS_MATCH_TABLE: readonly OfDeviceId[] = [
  { compatible: 'simple-bus' },
  { compatible: 'simple-mfd' },
  { compatible: 'isa' },
  { compatible: 'arm,amba-bus' },
];

/**
 * Nodes of_platform_populate never makes a device of, whatever their parent
 * (of_skipped_node_table): OPP tables, which carry a `compatible` but describe operating
 * points for the devices that point at them with `operating-points-v2`.
 */
export const OF_SKIPPED_NODE_TABLE: readonly OfDeviceId[] = [{ compatible: 'operating-points-v2' }];

/**
 * The clock providers of_clk_init sets up at time_init (CLK_OF_DECLARE, built into every
 * arm64 kernel): it marks each OF_POPULATED, so of_platform_populate makes no device of them,
 * and consumers never wait for them.
 */
export const OF_CLK_DECLARE_TABLE: readonly OfDeviceId[] = [{ compatible: 'fixed-clock' }, { compatible: 'fixed-factor-clock' }];

/** /reserved-memory children that become platform devices at boot (drivers bind to those regions). */
export const RESERVED_MEM_MATCHES: readonly OfDeviceId[] = [
  { compatible: 'phram' },
  { compatible: 'qcom,rmtfs-mem' },
  { compatible: 'qcom,cmd-db' },
  { compatible: 'qcom,smem' },
  { compatible: 'ramoops' },
  { compatible: 'nvmem-rmem' },
  { compatible: 'google,open-dice' },
];

/**
 * The platform device name the kernel derives from a node (of_device_make_bus_id):
 * "<translated reg address in hex>.<node name>" ("a000000.dma"), with the lowest set bit of
 * a `mask` property between them when the node has one ("1c010008.0.led", so register-bit
 * LEDs sharing one register get distinct names); a node without a translatable `reg` uses
 * its full name, prefixed by its ancestors' until one has an address ("soc:firmware" style).
 */
export function ofDeviceMakeBusId(node: OfNode): string {
  let name: string | null = null;
  for (let n: OfNode = node; n.parent; n = n.parent) {
    const r = ofGetAddress(n, 0);
    const addr = typeof r === 'number' ? -1 : ofTranslateAddress(n, r.addr);
    if (addr >= 0) {
      const mask = ofPropertyReadU32(n, 'mask');
      // ffs(mask) - 1, printed with %x: 0xffffffff for a zero mask
      const bit = mask < 0 ? '' : `${(mask === 0 ? 0xffffffff : 31 - Math.clz32(mask & -mask)).toString(16)}.`;
      const own = `${addr.toString(16)}.${bit}${n.baseName}`;
      return name === null ? own : `${own}:${name}`;
    }
    name = name === null ? n.name : `${n.name}:${name}`;
  }
  return name ?? '';
}

/**
 * The OF layer: the board's DTB unflattened into OfNodes, the platform devices made from
 * them, and the interrupt domains that turn interrupt specifiers into line numbers.
 */
export class OfLayer {
  private treeRef: OfTree | null = null;
  private readonly populated = new Set<OfNode>();
  /** Nodes set up before devices exist (interrupt controllers): never platform devices. */
  private readonly early = new Set<OfNode>();
  private readonly irqDomains = new Map<OfNode, IrqXlate>();
  private busDriverRegistered = false;

  constructor(readonly kernel: Kernel) {}

  /** The unflattened tree, once `populate()` (or `loadTree`) ran; null before. */
  get tree(): OfTree | null {
    return this.treeRef;
  }

  /**
   * Installs `fdt` as the kernel's device tree and initialises the interrupt controllers it
   * describes (GICs become the domain of the board's interrupt controller) and its fixed
   * clocks (OF_CLK_DECLARE_TABLE), none of which become platform devices. Throws
   * KernelError(-EBUSY) when a tree with populated devices is already installed.
   */
  loadTree(fdt: FdtTree): OfTree {
    if (this.treeRef && this.populated.size > 0) throw new KernelError(-EBUSY, 'OF: device tree already populated');
    const tree = new OfTree(fdt);
    this.treeRef = tree;
    this.early.clear();
    this.irqDomains.clear();
    for (const n of tree.nodes()) {
      if (!ofIsGic(n) || !ofDeviceIsAvailable(n)) continue;
      this.early.add(n);
      this.irqDomains.set(n, gicXlate);
      this.kernel.log.info('OF', `interrupt controller ${n.fullName} -> ${this.kernel.board.irq.name} (${this.kernel.board.irq.numLines} lines)`);
    }
    // then the controllers stacked on a GIC (of_irq_init orders children after their parent)
    for (const n of tree.nodes()) {
      const stacked = ofGicStacked(n);
      if (!stacked || !ofDeviceIsAvailable(n)) continue;
      const parent = ofIrqFindParent(n);
      // what it hands on is a GIC specifier: its parent must be a GIC
      const up = parent && ofIsGic(parent) ? this.irqDomains.get(parent) : undefined;
      if (!parent || !up) {
        this.kernel.log.warn('OF', `interrupt controller ${n.fullName}: its parent ${parent?.fullName ?? '(none)'} is not a GIC; left without a domain`);
        continue;
      }
      if (!stacked.device) this.early.add(n);
      this.irqDomains.set(n, stackedXlate(n, up));
      this.kernel.log.info('OF', `interrupt controller ${n.fullName} -> ${parent.fullName} (stacked)`);
    }
    // of_clk_init: the fixed clocks, initialised without a device
    for (const n of tree.nodes()) if (ofMatchNode(OF_CLK_DECLARE_TABLE, n) && ofDeviceIsAvailable(n)) this.early.add(n);
    return tree;
  }

  /**
   * of_platform_default_populate: unflattens the board's DTB (unless a tree was loaded
   * already) and creates one platform device per enabled node with a `compatible` under the
   * root, descending into simple-bus style nodes. Already populated nodes are skipped, so a
   * second call only adds what is new. A board without a DTB gets no devices; a malformed
   * DTB is logged and ignored.
   */
  populate(): void {
    if (!this.treeRef) {
      const dtb = this.kernel.board.dtb;
      if (dtb.length === 0) {
        this.kernel.log.info('OF', 'no device tree: no platform devices');
        return;
      }
      let fdt: FdtTree;
      try {
        fdt = parseDtb(dtb);
      } catch (e) {
        if (!(e instanceof FdtError)) throw e;
        this.kernel.log.log('crit', 'OF', `invalid device tree blob: ${e.message}`);
        return;
      }
      this.loadTree(fdt);
    }
    this.registerSimpleBusDriver();
    const tree = this.treeRef!;
    // as of_platform_default_populate_init: the reserved-memory regions some drivers bind to,
    // then the /firmware node's children, then everything under the root
    const resmem = tree.findByPath('/reserved-memory');
    if (resmem)
      for (const n of resmem.children)
        if (ofMatchNode(RESERVED_MEM_MATCHES, n) && ofDeviceIsAvailable(n) && !this.populated.has(n)) this.createPlatformDevice(n, null);
    const firmware = tree.findByPath('/firmware');
    if (firmware && ofDeviceIsAvailable(firmware)) this.platformPopulate(firmware, null);
    this.platformPopulate(tree.root, null);
  }

  /**
   * of_platform_populate: devices for `root`'s enabled children with a `compatible`
   * (except OF_SKIPPED_NODE_TABLE's OPP tables), recursing into those matching `busMatches`,
   * with `parent` as their parent device.
   * Returns 0 or -EINVAL without a tree.
   */
  platformPopulate(root: OfNode, parent: Device | null, busMatches: readonly OfDeviceId[] = OF_DEFAULT_BUS_MATCH_TABLE): number {
    if (!this.treeRef || root.tree !== this.treeRef) return -EINVAL;
    // Iterative depth first, parents before children, document order.
    const stack: { node: OfNode; parent: Device | null }[] = [];
    for (let i = root.children.length - 1; i >= 0; i--) stack.push({ node: root.children[i]!, parent });
    while (stack.length > 0) {
      const { node, parent: p } = stack.pop()!;
      if (!node.hasProperty('compatible') || !ofDeviceIsAvailable(node)) continue;
      if (ofMatchNode(OF_SKIPPED_NODE_TABLE, node)) continue;
      if (this.early.has(node)) continue;
      let dev = this.populated.has(node) ? this.kernel.drivers.deviceForNode(node) : this.createPlatformDevice(node, p);
      if (typeof dev === 'number') dev = undefined;
      if (!dev || !ofMatchNode(busMatches, node)) continue;
      for (let i = node.children.length - 1; i >= 0; i--) stack.push({ node: node.children[i]!, parent: dev });
    }
    return 0;
  }

  /** of_platform_depopulate: unregisters the devices populated below `parent`. */
  platformDepopulate(parent: Device): void {
    for (const d of [...this.kernel.drivers.allDevices()].reverse()) {
      if (d.parent !== parent || !d.ofNode || !this.populated.has(d.ofNode)) continue;
      this.platformDepopulate(d);
      const node = d.ofNode;
      if (this.kernel.drivers.unregisterDevice(d) === 0) this.populated.delete(node);
    }
  }

  /**
   * of_platform_device_create: the platform device for `node` (named by
   * ofDeviceMakeBusId), with its translated `reg` ranges and resolvable interrupts as
   * resources, registered (and so probed) at once. -ENODEV for a disabled or already
   * populated node, or the registration's error.
   */
  createPlatformDevice(node: OfNode, parent: Device | null): Device | number {
    if (!ofDeviceIsAvailable(node) || this.populated.has(node) || this.early.has(node)) return -ENODEV;
    const resources: Resource[] = [];
    const nreg = ofRegCount(node);
    for (let i = 0; i < nreg; i++) {
      const r = ofAddressToResource(node, i);
      if (typeof r === 'number') break;
      resources.push({ kind: 'mem', start: r.start, end: r.end, name: r.name });
    }
    const irqNames = this.stringList(node, 'interrupt-names');
    const unresolved: string[] = [];
    const nirq = Math.min(1024, ofIrqSpecifierCount(node));
    for (let i = 0; i < nirq; i++) {
      const irq = this.irqGet(node, i);
      if (irq >= 0) {
        resources.push({ kind: 'irq', start: irq, end: irq, name: irqNames[i] ?? node.fullName });
        continue;
      }
      // its controller has no interrupt domain (not modelled, or not ready): platform_get_irq
      // asks again later and gets -EPROBE_DEFER; an untranslatable one stays -EINVAL
      const spec = ofIrqParse(node, i);
      unresolved.push(typeof spec === 'number' ? `${i} (untranslatable)` : `${i} -> ${spec.np.fullName}${irq === -EPROBE_DEFER ? ' (no interrupt domain)' : ' (not wired)'}`);
    }
    if (unresolved.length > 0) this.kernel.log.warn('OF', `${node.fullName}: interrupt(s) left unresolved: ${unresolved.join(', ')}`);
    const dev = this.kernel.drivers.createDevice({ name: ofDeviceMakeBusId(node), parent, ofNode: node, resources });
    this.populated.add(node);
    const err = this.kernel.drivers.registerDevice(dev);
    if (err < 0) {
      this.populated.delete(node);
      this.kernel.log.err('OF', `failed to create device for ${node.fullName}: ${err}`);
      return err;
    }
    return dev;
  }

  /** True for nodes initialised without a device (interrupt controllers, fixed clocks). */
  isEarlyNode(node: OfNode): boolean {
    return this.early.has(node);
  }

  /** True once a platform device was created for `node`. */
  isPopulated(node: OfNode): boolean {
    return this.populated.has(node);
  }

  /** Makes `xlate` the interrupt domain of controller `node` (irq_domain_add). */
  registerIrqDomain(node: OfNode, xlate: IrqXlate): void {
    this.irqDomains.set(node, xlate);
  }

  unregisterIrqDomain(node: OfNode): void {
    this.irqDomains.delete(node);
  }

  /**
   * of_irq_get: the interrupt line number of interrupt `index` of `node`. -EINVAL when the
   * node has no such interrupt or its specifier does not translate; -EPROBE_DEFER when the
   * controller it names has no interrupt domain yet.
   */
  irqGet(node: OfNode, index: number): number {
    const spec = ofIrqParse(node, index);
    if (typeof spec === 'number') return spec;
    const xlate = this.irqDomains.get(spec.np);
    if (!xlate) return -EPROBE_DEFER;
    const hw = xlate(spec);
    if (hw < 0 || hw >= this.kernel.board.irq.numLines) return -EINVAL;
    return hw;
  }

  findNodeByPath(path: string): OfNode | undefined {
    return this.treeRef?.findByPath(path);
  }

  findNodeByPhandle(phandle: number): OfNode | undefined {
    return this.treeRef?.findByPhandle(phandle);
  }

  /** of_find_compatible_node: the first node (document order) compatible with `compat`. */
  findCompatibleNode(compat: string): OfNode | undefined {
    return this.treeRef?.nodes().find((n) => ofDeviceIsCompatible(n, compat) > 0);
  }

  /** A string-list property, or [] when absent or malformed. */
  stringList(node: OfNode, name: string): string[] {
    const v = ofPropertyReadStringArray(node, name);
    return typeof v === 'number' ? [] : v;
  }

  /**
   * The built-in simple-pm-bus driver: binds simple-bus style nodes (whose children the
   * default populate already created) and populates a `simple-pm-bus` node's children
   * when it probes.
   */
  private registerSimpleBusDriver(): void {
    if (this.busDriverRegistered) return;
    this.busDriverRegistered = true;
    const of = this;
    const drv: Driver = {
      name: 'simple-pm-bus',
      ofMatchTable: [{ compatible: 'simple-pm-bus' }, ...OF_DEFAULT_BUS_MATCH_TABLE.filter((m) => m.compatible !== 'isa')],
      probe(dev) {
        const node = dev.ofNode;
        if (node && ofDeviceIsCompatible(node, 'simple-pm-bus') > 0 && !ofMatchNode(OF_DEFAULT_BUS_MATCH_TABLE, node))
          return of.platformPopulate(node, dev);
        return 0;
      },
      remove(dev) {
        const node = dev.ofNode;
        if (node && ofDeviceIsCompatible(node, 'simple-pm-bus') > 0 && !ofMatchNode(OF_DEFAULT_BUS_MATCH_TABLE, node))
          of.platformDepopulate(dev);
      },
    };
    this.kernel.drivers.registerDriver(drv);
  }
}

/**
 * devm_of_platform_populate: platform devices for the children of `dev`'s node (as
 * of_platform_populate with `dev` as their parent), depopulated again when `dev` is unbound.
 * 0, or -EINVAL for a device without a node.
 */
export function devmOfPlatformPopulate(dev: Device): number {
  const node = dev.ofNode;
  if (!node) return -EINVAL;
  const of = dev.core.kernel.of;
  const r = of.platformPopulate(node, dev);
  if (r < 0) return r;
  dev.devmAdd('of_platform_populate', () => of.platformDepopulate(dev));
  return 0;
}
