import { MmioBus } from './bus.js';
import { SimClock } from './clock.js';
import { translatedRegs, resolveInterrupts } from './fdt/address.js';
import { parseDtb } from './fdt/parse.js';
import {
  addressCells,
  compatibleOf,
  decodeReg,
  isEnabled,
  nodeBaseName,
  propString,
  sizeCells,
  walkTree,
  type FdtRegEntry,
} from './fdt/read.js';
import { FdtError, type FdtNode, type FdtReservation, type FdtTree } from './fdt/types.js';
import { InterruptController } from './irq.js';
import { PAGE_SIZE, PhysMem, type MemRegion } from './mem.js';
import { BUILTIN_MODELS, descriptorMatches, type ModelDescriptor } from './models/registry.js';

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
 * CPU physical addresses, `irqs` its interrupt controller line numbers. The factory maps its
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

  constructor(
    readonly name: string,
    ram: readonly MemRegion[],
  ) {
    this.mem = new PhysMem(ram);
    this.bus = new MmioBus(this.mem);
    this.irq = new InterruptController();
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
    const ac = addressCells(root, '/');
    const sc = sizeCells(root, '/');

    const ram: MemRegion[] = [];
    for (const n of root.children) {
      const path = `/${n.name}`;
      const isMemory = nodeBaseName(n.name) === 'memory' || propString(n, 'device_type', path) === 'memory';
      if (!isMemory || !isEnabled(n, path)) continue;
      for (const r of decodeReg(n, ac, sc, path)) {
        if (r.size === 0) continue;
        if (r.address % PAGE_SIZE || r.size % PAGE_SIZE)
          throw new FdtError(-1, `RAM 0x${r.address.toString(16)}+0x${r.size.toString(16)} is not 4 KiB aligned`, path);
        ram.push({ base: r.address, size: r.size });
      }
    }
    if (ram.length === 0) throw new FdtError(-1, 'no RAM: no /memory node with a non-empty reg', '/');
    ram.sort((a, b) => a.base - b.base);
    for (let i = 1; i < ram.length; i++)
      if (ram[i]!.base < ram[i - 1]!.base + ram[i - 1]!.size)
        throw new FdtError(-1, `RAM regions overlap at 0x${ram[i]!.base.toString(16)}`, '/');

    const name = opts.name ?? propString(root, 'model', '/') ?? compatibleOf(root, '/')[0] ?? 'board';
    const board = new Board(name, ram);
    board.dtb = dtb.slice();
    board.reserved.push(...tree.reservations.map((r) => ({ address: r.address, size: r.size })));
    const resmem = root.children.find((c) => c.name === 'reserved-memory');
    if (resmem) {
      for (const c of resmem.children) {
        const path = `/reserved-memory/${c.name}`;
        if (!isEnabled(c, path)) continue;
        for (const r of translatedRegs(tree, path) ?? []) board.reserved.push({ address: r.address, size: r.size });
      }
    }

    if (opts.models === false) return board;
    const table = opts.models === undefined || opts.models === true ? undefined : opts.models;
    const lookup = (compatible: string): ModelFactory | undefined =>
      table ? table.find((d) => descriptorMatches(d, compatible))?.factory : Board.modelFactory(compatible);
    const counts = new Map<string, number>();
    const used = new Set<ModelFactory>();
    walkTree(tree, (node, path) => {
      if (!isEnabled(node, path)) return false; // a disabled bus disables its children too
      for (const compatible of compatibleOf(node, path)) {
        const factory = lookup(compatible);
        if (!factory) continue;
        const index = counts.get(compatible) ?? 0;
        counts.set(compatible, index + 1);
        const regs = translatedRegs(tree, path) ?? [];
        const irqs = resolveInterrupts(tree, path) ?? [];
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
