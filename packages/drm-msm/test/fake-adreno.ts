/**
 * A scripted stand-in for an Adreno a6xx GPU and its GMU, for the driver's unit tests while
 * the real model is not on the board. It is deliberately small and is not the model: it
 * answers the GMU handshakes from a script (firmware init value, out-of-band acks, HFI
 * status), and its "command processor" walks the ring and the IBs through the SMMU
 * translator it is given, handling only the packets the driver emits and the few the tests
 * write (register writes, CP_MEM_WRITE, CP_MEM_TO_MEM copy, CP_REG_TO_MEM, CP_EVENT_WRITE with
 * the fence and its interrupt, CP_INDIRECT_BUFFER_PFE, CP_SMMU_TABLE_UPDATE). The table update
 * writes the SMMU's context bank 0 through the bus, as the CP does, and invalidates its TLB
 * (TLBIASID + TLBSYNC) unless told not to. A translation that stalls suspends the ring until the
 * SMMU resumes or terminates it; the packet then runs again, the terminated access dropped. Register offsets and packet
 * values are written out here from the public a6xx/PM4 facts; nothing is imported from the driver.
 */
import { Board, SmmuV2, type IrqLine, type MmioDevice, type ModelFactory } from '@gki/hw';

const REG = {
  RBBM_INT_CLEAR_CMD: 0x37,
  RBBM_INT_0_MASK: 0x38,
  RBBM_INT_0_STATUS: 0x201,
  RBBM_STATUS: 0x210,
  RBBM_STATUS3: 0x213,
  CP_RB_BASE: 0x800,
  CP_RB_BASE_HI: 0x801,
  CP_RB_RPTR: 0x806,
  CP_RB_WPTR: 0x807,
  CP_SQE_CNTL: 0x808,
  CP_ALWAYS_ON_COUNTER: 0x980,
};
const INT_CACHE_FLUSH_TS = 1 << 20;
const GMU = {
  CM3_DTCM_VERSION: 0x1c00 + 0xff8,
  CM3_SYSRESET: 0x5000,
  CM3_FW_INIT_RESULT: 0x501c,
  HFI_CTRL_STATUS: 0x5180,
  HFI_CTRL_INIT: 0x5186,
  GMU2HOST_INTR_CLR: 0x5191,
  GMU2HOST_INTR_INFO: 0x5192,
  HOST2GMU_INTR_SET: 0x5194,
  GPU_CX_BUSY_STATUS: 0x930c,
};
const RB_DWORDS = 0x2000;

export interface FakeAdrenoOptions {
  /** Skip the TLB invalidation of CP_SMMU_TABLE_UPDATE (a broken CP, for tests). */
  dropTtbrInvalidate?: boolean;
}

export interface FakeCpPacket {
  /** 'pkt4' or the type-7 opcode. */
  op: number | 'pkt4';
  /** Register (type 4) or the first payload dword. */
  arg: number;
  fromIb: boolean;
}

type Translator = (sid: number, iova: number, write: boolean, out: { pa: number; stalled?: boolean; sink?: boolean }) => boolean;

class Stall extends Error {}
class Abort extends Error {}

export class FakeAdreno implements MmioDevice {
  readonly name = 'fake-adreno';
  private readonly regs = new Map<number, number>();
  private translator: Translator | undefined;
  private readonly out = { pa: 0, stalled: false, sink: false };
  private rptr = 0;
  private wptr = 0;
  private running = false;
  private stalled = false;
  /** The access a terminate aborted: when the packet runs again it is dropped (reads give 0). */
  private aborted: { iova: number; write: boolean } | null = null;
  private lastStall: { iova: number; write: boolean } = { iova: 0, write: false };
  private counter = 0;
  /** Every packet executed, in order (the tests' view of the command stream). */
  readonly packets: FakeCpPacket[] = [];
  readonly ttbrWrites: { ttbrLo: number; ttbrHi: number; asid: number }[] = [];
  terminated = 0;

  constructor(
    private readonly board: Board,
    private readonly irq: IrqLine,
    readonly opts: FakeAdrenoOptions,
  ) {}

  setTranslator(fn: Translator | undefined): void {
    this.translator = fn;
  }

  stallResolved(terminate: boolean): void {
    if (!this.stalled) return;
    this.stalled = false;
    if (terminate) {
      this.terminated++;
      this.aborted = { ...this.lastStall };
    }
    this.run();
  }

  reg(r: number): number {
    return this.regs.get(r) ?? 0;
  }

  read32(off: number): number {
    const r = off >>> 2;
    this.counter++;
    switch (r) {
      case REG.CP_RB_RPTR:
        return this.rptr;
      case REG.RBBM_STATUS:
        return this.stalled ? 4 : 0;
      case REG.RBBM_STATUS3:
        return this.stalled ? 1 << 24 : 0;
      case REG.CP_ALWAYS_ON_COUNTER:
        return this.counter;
      default:
        return this.reg(r);
    }
  }

  write32(off: number, v: number): void {
    const r = off >>> 2;
    v >>>= 0;
    switch (r) {
      case REG.RBBM_INT_CLEAR_CMD:
        this.regs.set(REG.RBBM_INT_0_STATUS, this.reg(REG.RBBM_INT_0_STATUS) & ~v);
        this.updateIrq();
        return;
      case REG.RBBM_INT_0_MASK:
        this.regs.set(r, v);
        this.updateIrq();
        return;
      case REG.CP_SQE_CNTL:
        this.regs.set(r, v);
        if (v === 1) {
          this.rptr = 0;
          this.wptr = 0;
        }
        return;
      case REG.CP_RB_WPTR:
        this.wptr = v % RB_DWORDS;
        this.run();
        return;
      default:
        this.regs.set(r, v);
    }
  }

  private updateIrq(): void {
    if (this.reg(REG.RBBM_INT_0_STATUS) & this.reg(REG.RBBM_INT_0_MASK)) this.irq.raise();
    else this.irq.lower();
  }

  private get rbBase(): number {
    return this.reg(REG.CP_RB_BASE) + this.reg(REG.CP_RB_BASE_HI) * 2 ** 32;
  }

  /** A physical address for a GPU access, or throws Stall / Abort. */
  private pa(iova: number, write: boolean): number {
    const t = this.translator;
    if (!t) return iova;
    if (this.aborted && this.aborted.iova === iova && this.aborted.write === write) {
      this.aborted = null;
      return -1;
    }
    this.out.stalled = false;
    this.out.sink = false;
    if (t(0, iova, write, this.out)) return this.out.sink ? -1 : this.out.pa;
    if (this.out.stalled) {
      this.lastStall = { iova, write };
      throw new Stall();
    }
    throw new Abort();
  }

  private rd(iova: number): number {
    const pa = this.pa(iova, false);
    return pa < 0 ? 0 : this.board.mem.read32(pa) >>> 0;
  }

  private wr(iova: number, v: number): void {
    const pa = this.pa(iova, true);
    if (pa >= 0) this.board.mem.write32(pa, v >>> 0);
  }

  /** Runs the ring until it is empty or a translation stalls. */
  private run(): void {
    if (this.running || this.stalled) return;
    if (this.reg(REG.CP_SQE_CNTL) !== 1) return;
    this.running = true;
    try {
      while (this.rptr !== this.wptr) {
        const at = this.rptr;
        const fetch = (i: number): number => this.rd(this.rbBase + ((at + i) % RB_DWORDS) * 4);
        let len: number;
        try {
          len = this.exec(fetch, false);
        } catch (e) {
          if (e instanceof Stall) {
            this.stalled = true;
            return;
          }
          if (!(e instanceof Abort)) throw e;
          len = this.packetLen(fetch(0));
        }
        this.rptr = (at + len) % RB_DWORDS;
      }
    } finally {
      this.running = false;
    }
  }

  private packetLen(h: number): number {
    const type = h >>> 28;
    if (type === 4) return 1 + (h & 0x7f);
    if (type === 7) return 1 + (h & 0x3fff);
    return 1;
  }

  /** Executes one packet; returns its length in dwords. Throws Stall or Abort from memory accesses. */
  private exec(fetch: (i: number) => number, fromIb: boolean): number {
    const h = fetch(0);
    const len = this.packetLen(h);
    const type = h >>> 28;
    if (type === 4) {
      const reg = (h >>> 8) & 0x3ffff;
      this.packets.push({ op: 'pkt4', arg: reg, fromIb });
      for (let i = 1; i < len; i++) this.regs.set(reg + i - 1, fetch(i));
      return len;
    }
    if (type !== 7) return len;
    const op = (h >>> 16) & 0x7f;
    const d = (i: number): number => fetch(i + 1);
    const addr = (i: number): number => d(i) + (d(i + 1) & 0x1_ffff) * 2 ** 32;
    this.packets.push({ op, arg: len > 1 ? d(0) : 0, fromIb });
    switch (op) {
      case 0x3d: // CP_MEM_WRITE
        for (let i = 2; i < len - 1; i++) this.wr(addr(0) + (i - 2) * 4, d(i));
        break;
      case 0x73: // CP_MEM_TO_MEM: dst, srcA (one dword)
        this.wr(addr(1), this.rd(addr(3)));
        break;
      case 0x3e: // CP_REG_TO_MEM
        this.wr(addr(1), this.counter);
        this.wr(addr(1) + 4, 0);
        break;
      case 0x46: // CP_EVENT_WRITE
        if ((d(0) & 0xff) === 4 && len >= 5) {
          this.wr(addr(1), d(3));
          if (d(0) & 0x8000_0000) {
            this.regs.set(REG.RBBM_INT_0_STATUS, this.reg(REG.RBBM_INT_0_STATUS) | INT_CACHE_FLUSH_TS);
            this.updateIrq();
          }
        }
        break;
      case 0x3f: {
        // CP_INDIRECT_BUFFER_PFE
        const base = addr(0);
        const n = d(2);
        let i = 0;
        while (i < n) {
          const at = base + i * 4;
          try {
            i += this.exec((k) => this.rd(at + k * 4), true);
          } catch (e) {
            if (!(e instanceof Abort)) throw e;
            i += this.packetLen(this.rd(at));
          }
        }
        break;
      }
      case 0x53: // CP_SMMU_TABLE_UPDATE
        this.tableUpdate(d(0), d(1) & 0xffff, d(1) >>> 16);
        break;
      default:
        break;
    }
    return len;
  }

  private tableUpdate(lo: number, hi: number, asid: number): void {
    this.ttbrWrites.push({ ttbrLo: lo, ttbrHi: hi, asid });
    const smmu = this.board.modelsOfType(SmmuV2).find((s) => s.attachedMasters.includes(this));
    if (!smmu) return;
    const mmio = this.board.bus.list().find((r) => r.device === smmu)!.base;
    const cb = mmio + smmu.contextBankOffset(0);
    this.board.bus.write32(cb + 0x020, lo);
    this.board.bus.write32(cb + 0x024, (hi | (asid << 16)) >>> 0);
    if (!this.opts.dropTtbrInvalidate) {
      this.board.bus.write32(cb + 0x610, asid); // TLBIASID
      this.board.bus.write32(cb + 0x7f0, 0); // TLBSYNC
    }
  }
}

/** A GMU that answers the cold-boot handshakes and acknowledges out-of-band requests. */
export class FakeGmu implements MmioDevice {
  readonly name = 'fake-gmu';
  private readonly regs = new Map<number, number>();
  /** Out-of-band requests currently held (by request bit). */
  readonly held = new Set<number>();
  readonly requests: number[] = [];
  /** When set, out-of-band requests are never acknowledged. */
  deaf = false;

  setTranslator(): void {}

  read32(off: number): number {
    const r = off >>> 2;
    if (r === GMU.CM3_DTCM_VERSION) return 0x2001_0000;
    if (r === GMU.GPU_CX_BUSY_STATUS) return 0;
    return this.regs.get(r) ?? 0;
  }

  write32(off: number, v: number): void {
    const r = off >>> 2;
    v >>>= 0;
    this.regs.set(r, v);
    const info = () => this.regs.get(GMU.GMU2HOST_INTR_INFO) ?? 0;
    switch (r) {
      case GMU.CM3_SYSRESET:
        if (v === 0) this.regs.set(GMU.CM3_FW_INIT_RESULT, 0xbabe_face);
        break;
      case GMU.HFI_CTRL_INIT:
        if (v & 1) this.regs.set(GMU.HFI_CTRL_STATUS, 1);
        break;
      case GMU.GMU2HOST_INTR_CLR:
        this.regs.set(GMU.GMU2HOST_INTR_INFO, info() & ~v);
        break;
      case GMU.HOST2GMU_INTR_SET:
        for (let b = 0; b < 32; b++) {
          if (!(v & (1 << b))) continue;
          const req = { 22: 30, 16: 24, 23: 31 } as Record<number, number>;
          if (req[b] !== undefined) {
            this.requests.push(b);
            this.held.add(b);
            if (!this.deaf) this.regs.set(GMU.GMU2HOST_INTR_INFO, (info() | (1 << req[b]!)) >>> 0);
          } else {
            // an ack bit written back: the request is withdrawn
            const back = { 30: 22, 24: 16, 31: 23 } as Record<number, number>;
            if (back[b] !== undefined) this.held.delete(back[b]!);
          }
        }
        break;
    }
  }
}

/**
 * Registers the fakes for `qcom,adreno` and `qcom,adreno-gmu` nodes. Returns the restore
 * function and the instances made.
 */
export function registerFakeAdreno(opts: FakeAdrenoOptions = {}): { restore: () => void; gpus: FakeAdreno[]; gmus: FakeGmu[] } {
  const gpus: FakeAdreno[] = [];
  const gmus: FakeGmu[] = [];
  const gpuFactory: ModelFactory = (board, _node, regs, irqs) => {
    const g = new FakeAdreno(board, board.irq.line(irqs[0]!), opts);
    board.bus.map(regs[0]!.address, regs[0]!.size, g);
    gpus.push(g);
    return g;
  };
  const gmuFactory: ModelFactory = (board, _node, regs) => {
    const g = new FakeGmu();
    board.bus.map(regs[0]!.address, regs[0]!.size, g);
    gmus.push(g);
    return g;
  };
  // registrations win over the built-in models compatible by compatible: claim the SoC's strings too
  const undo = [
    ...['qcom,adreno-630.2', 'qcom,adreno-690.0', 'qcom,adreno'].map((c) => Board.registerModel(c, gpuFactory)),
    ...['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu'].map((c) => Board.registerModel(c, gmuFactory)),
  ];
  return { restore: () => undo.reverse().forEach((f) => f()), gpus, gmus };
}
