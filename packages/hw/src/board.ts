import { MmioBus } from './bus.js';
import { SimClock } from './clock.js';
import { translatedRegs } from './fdt/address.js';
import { boardInterrupts, FdtIndex } from './fdt/irq.js';
import { parseDtb } from './fdt/parse.js';
import { compatibleOf, isEnabled, propString, walkTree, type FdtRegEntry } from './fdt/read.js';
import { FdtError, type FdtNode, type FdtReservation, type FdtTree } from './fdt/types.js';
import { InterruptController } from './irq.js';
import { PhysMem, type MemRegion } from './mem.js';
import { readMemoryMap, reservationPairs, usableRam, type BoardNote, type ReservedRegion } from './memmap.js';
import { BusMasterPort, createBusMasterPort, createBusMasterPortForRid } from './models/bus-master-port.js';
import { PciEcamHost } from './models/pci-ecam/host.js';
import { BUILTIN_MODELS, descriptorMatches, type ModelDescriptor } from './models/registry.js';
import { SMCCC_RET_NOT_SUPPORTED, type SecureMonitor, type SmcResult } from './smc.js';

/** What a model factory learns about the node it is instantiated for, besides its resources. */
export interface ModelContext {
  /** The whole parsed tree (for phandle look-ups such as `iommus`). */
  readonly tree: FdtTree;
  /** Full path of the node: also the key of the model in `board.models`. */
  readonly path: string;
  /** The compatible string that selected this factory. */
  readonly compatible: string;
  /** How many nodes before this one were instantiated by the same factory and compatible (0, 1, ...). */
  readonly index: number;
}

/**
 * Creates the device model for a DT node. `regs` are the node's `reg` entries translated to
 * CPU physical addresses, `irqs` its board interrupt line numbers, one per specifier, with -1
 * for an interrupt that is not wired to the board (its controller is not the GIC). The factory maps its
 * registers on `board.bus` and takes its lines from `board.irq` itself; the returned object is
 * stored in `board.models` under the node path. Throw (preferably an FdtError naming the path)
 * when the node does not describe a usable device.
 */
export type ModelFactory = ((
  board: Board,
  node: FdtNode,
  regs: readonly FdtRegEntry[],
  irqs: readonly number[],
  ctx: ModelContext,
) => unknown) & {
  /**
   * Optional second pass, run once after every model of the tree exists, for factories whose
   * models connect to others wherever they sit in the tree (an IOMMU and its masters).
   */
  link?: (board: Board, tree: FdtTree) => void;
};

export interface BoardFromDtbOptions {
  /** Board name; default: the root `model` property, else its first `compatible`, else 'board'. */
  readonly name?: string;
  /**
   * Which device models to instantiate: `false` for none; a list of descriptors to use only
   * those; default (`true`): the package's built-in models plus `Board.registerModel` entries.
   */
  readonly models?: boolean | readonly ModelDescriptor[];
}

/**
 * A machine: RAM, the MMIO bus, the interrupt controller, the clock, the device models
 * (by name, for tests and the CLI to reach) and the flattened device tree describing it.
 */
export class Board {
  readonly mem: PhysMem;
  readonly bus: MmioBus;
  readonly irq: InterruptController;
  readonly clock = new SimClock();
  /** Device models by node path or name; only tests, the CLI and the board itself look here. */
  readonly models = new Map<string, unknown>();
  dtb: Uint8Array = new Uint8Array(0);
  /** Memory the firmware keeps for itself: the DTB reservation block and /reserved-memory children. */
  readonly reserved: FdtReservation[] = [];
  /** The same reservations with their names and flags (no-map, reusable, dynamically placed). */
  readonly reservedMemory: ReservedRegion[] = [];
  /**
   * What the board decided on its own from the tree (a bootloader-filled RAM size, where a
   * dynamic reservation went, interrupts of modelled devices it could not wire), for the log.
   */
  readonly notes: BoardNote[] = [];

  /**
   * The secure firmware an SMC reaches (set by the model of the firmware node, e.g. Qualcomm's
   * TrustZone for `qcom,scm`), or null: every SMC answers NOT_SUPPORTED.
   */
  secureMonitor: SecureMonitor | null = null;

  /** An SMC from the normal world: the secure monitor handles it (see smc.ts). */
  smc(args: readonly number[], res: SmcResult): void {
    if (this.secureMonitor) {
      this.secureMonitor.smc(args, res);
      return;
    }
    res.a0 = SMCCC_RET_NOT_SUPPORTED;
    res.a1 = res.a2 = res.a3 = 0;
  }

  /** Bus master ports made so far, by device path (or host path and requester ID). */
  private readonly ports = new Map<string, BusMasterPort>();
  private parsedTree: { dtb: Uint8Array; tree: FdtTree } | undefined;

  constructor(
    readonly name: string,
    ram: readonly MemRegion[],
  ) {
    this.mem = new PhysMem(ram);
    this.bus = new MmioBus(this.mem);
    this.irq = new InterruptController();
  }

  /**
   * RAM the kernel's page allocator may use: every bank minus each reservation that is not
   * `reusable` (no-map regions, /memreserve/ entries and plain reserved-memory), page aligned.
   */
  usableRam(): MemRegion[] {
    return usableRam(this.mem.regions, this.reservedMemory.length > 0 ? this.reservedMemory : this.reserved.map((r) => ({ name: '?', ...r, noMap: false, reusable: false, dynamic: false })));
  }

  private tree(): FdtTree {
    if (this.parsedTree?.dtb !== this.dtb) this.parsedTree = { dtb: this.dtb, tree: parseDtb(this.dtb) };
    return this.parsedTree.tree;
  }

  /**
   * The board's test probe for the device at DT `path` (see BusMasterPort): made on first use
   * and attached to the IOMMU model its `iommus` names, with that specifier's stream ID(s).
   * Undefined when the node names no modelled IOMMU. Throws FdtError for a path not in the
   * tree, a node with a device model of its own, or a malformed specifier. Not in
   * `board.models`: a port is no device.
   */
  masterPort(path: string): BusMasterPort | undefined {
    const have = this.ports.get(path);
    if (have) return have;
    const port = createBusMasterPort(this, this.tree(), path);
    if (port) this.ports.set(path, port);
    return port;
  }

  /**
   * The test probe for PCI requester ID `rid` (bus << 8 | devfn) below the host bridge at
   * `hostPath`, reached through the bridge's `iommu-map` (and `iommu-map-mask`). When the
   * bridge is modelled and has a function at `rid`, that function's own port (gated by its bus
   * master enable bit; untranslated when no map entry covers the ID); otherwise a port made
   * from the map alone (undefined when no entry covers the ID or its IOMMU has no model).
   */
  masterPortForRid(hostPath: string, rid: number): BusMasterPort | undefined {
    const host = this.models.get(hostPath);
    if (host instanceof PciEcamHost) {
      const fn = host.functionAt(rid);
      if (fn) return fn.port;
    }
    const key = `${hostPath}#rid-${rid}`;
    const have = this.ports.get(key);
    if (have) return have;
    const port = createBusMasterPortForRid(this, this.tree(), hostPath, rid);
    if (port) this.ports.set(key, port);
    return port;
  }

  /** The models that are instances of `type`, in the order they were created. */
  modelsOfType<T>(type: abstract new (...args: never[]) => T): T[] {
    const out: T[] = [];
    for (const m of this.models.values()) if (m instanceof type) out.push(m as T);
    return out;
  }

  /** Per-process registrations (`registerModel`), consulted before the built-in table. */
  private static readonly factories = new Map<string, ModelFactory>();

  private static builtinFactory(compatible: string): ModelFactory | undefined {
    for (const d of BUILTIN_MODELS) if (descriptorMatches(d, compatible)) return d.factory;
    return undefined;
  }

  /**
   * Registers the model factory for a `compatible` string (replacing any previous one).
   * Returns a function that restores the previous registration.
   */
  static registerModel(compatible: string, factory: ModelFactory): () => void {
    const prev = Board.factories.get(compatible);
    Board.factories.set(compatible, factory);
    return () => {
      if (Board.factories.get(compatible) !== factory) return;
      if (prev) Board.factories.set(compatible, prev);
      else Board.factories.delete(compatible);
    };
  }

  /** The factory `fromDtb` uses by default for `compatible`: a registration, else a built-in model. */
  static modelFactory(compatible: string): ModelFactory | undefined {
    return Board.factories.get(compatible) ?? Board.builtinFactory(compatible);
  }

  /**
   * Builds a board from a DTB: RAM from the `/memory*` nodes (their `reg` read with the root's
   * #address-cells/#size-cells), reservations from the reservation block and /reserved-memory,
   * and one device model per enabled node whose `compatible` (most specific first) has a
   * registered factory. Nodes nobody registered are left to the kernel. Throws FdtError for a
   * malformed blob or a tree that does not describe a usable machine.
   */
  static fromDtb(dtb: Uint8Array, opts: BoardFromDtbOptions = {}): Board {
    const tree = parseDtb(dtb);
    const root = tree.root;
    const map = readMemoryMap(tree);
    let name = opts.name;
    if (name === undefined) {
      try {
        name = propString(root, 'model', '/') ?? compatibleOf(root, '/')[0] ?? 'board';
      } catch {
        name = 'board';
      }
    }
    const board = new Board(name, map.ram);
    board.dtb = dtb.slice();
    board.reservedMemory.push(...map.reserved);
    board.reserved.push(...reservationPairs(map.reserved));
    board.notes.push(...map.notes);

    if (opts.models === false) return board;
    const table = opts.models === undefined || opts.models === true ? undefined : opts.models;
    const lookup = (compatible: string): ModelFactory | undefined =>
      table ? table.find((d) => descriptorMatches(d, compatible))?.factory : Board.modelFactory(compatible);
    const counts = new Map<string, number>();
    const used = new Set<ModelFactory>();
    const idx = new FdtIndex(tree);
    walkTree(tree, (node, path) => {
      let compatibles: string[];
      try {
        if (!isEnabled(node, path)) return false; // a disabled bus disables its children too
        compatibles = compatibleOf(node, path);
      } catch (e) {
        // a malformed status or compatible on a node nobody models must not stop the board
        board.notes.push({ level: 'warn', source: 'OF', message: `${path}: ${e instanceof FdtError ? e.reason : String(e)}; node skipped` });
        return false;
      }
      for (const compatible of compatibles) {
        const factory = lookup(compatible);
        if (!factory) continue;
        const index = counts.get(compatible) ?? 0;
        counts.set(compatible, index + 1);
        const regs = translatedRegs(tree, path) ?? [];
        const wired = boardInterrupts(idx, node);
        for (const u of wired.unresolved)
          board.notes.push({ level: 'warn', source: 'OF', message: `${path}: interrupt ${u.index} not wired to the board: ${u.reason}` });
        const irqs = wired.lines;
        let model: unknown;
        try {
          model = factory(board, node, regs, irqs, { tree, path, compatible, index });
        } catch (e) {
          if (e instanceof FdtError) throw e;
          // e.g. a register window overlapping another device or RAM: name the node at fault
          throw new FdtError(-1, `${compatible} model: ${e instanceof Error ? e.message : String(e)}`, path);
        }
        if (model !== undefined) board.models.set(path, model);
        used.add(factory);
        break;
      }
      return undefined;
    });
    for (const factory of used) factory.link?.(board, tree);
    return board;
  }
}
