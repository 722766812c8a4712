/**
 * The Mali job manager: chains of descriptors run in an address space, moving memory through
 * page tables built in the test; completion and failure interrupts; faults that stall a job
 * until the driver maps the page (growable heap) or disables the AS (terminal fault); stops,
 * queueing, and bad programming.
 */
import { describe, expect, it } from 'vitest';
import { encodeMaliJob, maliChecksum, MALI_JOB_TYPE_COPY, MALI_JOB_TYPE_FILL, prop } from '@gki/hw';
import {
  ACCESS,
  AS,
  as,
  AS_CMD,
  disableAs,
  enableAs,
  EXC,
  fnv1a,
  JOB,
  js,
  JS,
  JS_CMD_HARD_STOP,
  JS_CMD_SOFT_STOP,
  JS_CMD_START,
  JS_CONFIG_DISABLE_DESCRIPTOR_WR_BK,
  lockRegion,
  maliRig,
  MaliTables,
  mmuOp,
  REG,
  resetAndPowerUp,
  rk3399,
  submit,
  writeJob,
  type MaliRig,
} from './mali-helpers.js';

const TABLES = 0x0100_0000;
const JOB_VA = 0x1000_0000;
const JOB_PA = 0x0300_0000;
const BUF_VA = 0x2000_0000;
const OUT_VA = 0x3000_0000;
const HEAP_VA = 0x4000_0000;

interface Fx {
  r: MaliRig;
  t: MaliTables;
  /** Scattered backing pages of BUF_VA (in VA order). */
  bufPages: number[];
  outPages: number[];
}

/** Pages deliberately out of order in physical memory. */
function scattered(base: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => base + ((i * 7) % n) * 0x1000);
}

function setup(rig: MaliRig = rk3399(), pages = 4): Fx {
  resetAndPowerUp(rig);
  const t = new MaliTables(rig.mem, TABLES);
  t.map(JOB_VA, JOB_PA, 0x1_0000);
  const bufPages = scattered(0x0400_0000, pages);
  const outPages = scattered(0x0500_0000, pages);
  bufPages.forEach((pa, i) => t.map(BUF_VA + i * 0x1000, pa, 0x1000));
  outPages.forEach((pa, i) => t.map(OUT_VA + i * 0x1000, pa, 0x1000));
  enableAs(rig, 0, t.transtab());
  return { r: rig, t, bufPages, outPages };
}

/** Writes bytes at a VA of the fixture's buffers, following its scattered pages. */
function fillVa(f: Fx, pages: number[], base: number, va: number, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) {
    const off = va - base + i;
    f.r.mem.writeBytes(pages[Math.floor(off / 0x1000)]! + (off % 0x1000), bytes.subarray(i, i + 1));
  }
}

function readVa(f: Fx, pages: number[], base: number, va: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const off = va - base + i;
    out[i] = f.r.mem.readBytes(pages[Math.floor(off / 0x1000)]! + (off % 0x1000), 1)[0]!;
  }
  return out;
}

const pattern = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

const status = (r: MaliRig, s: number) => r.r32(js(s, JS.STATUS));

describe('Mali jobs move memory through the page tables', () => {
  it('copies across scattered pages and reports DONE in JS_STATUS, JOB_IRQ and the descriptor', () => {
    const f = setup();
    const { r } = f;
    const data = pattern(0x2800);
    fillVa(f, f.bufPages, BUF_VA, BUF_VA + 0x300, data);
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src: BUF_VA + 0x300, dst: OUT_VA + 0x123, length: data.length });
    let irqs = 0;
    r.board.irq.onIrq(32 + 20, () => {
      irqs++;
      r.w32(REG.JOB_INT_CLEAR, r.r32(REG.JOB_INT_STAT));
    });
    submit(r, 1, 0, JOB_VA);
    expect(status(r, 1)).toBe(EXC.DONE);
    expect(irqs).toBe(1);
    expect(r.r32(REG.JOB_INT_RAWSTAT)).toBe(0); // cleared by the handler
    expect(readVa(f, f.outPages, OUT_VA, OUT_VA + 0x123, data.length)).toEqual(data);
    expect(r.mem.read32(JOB_PA)).toBe(EXC.DONE); // exception status written back
    expect(r.r32(js(1, JS.HEAD_LO))).toBe(JOB_VA);
    expect(r.r32(js(1, JS.TAIL_LO))).toBe(JOB_VA);
    expect(r.r32(js(1, JS.CONFIG)) & 0xf).toBe(0);
    expect(r.gpu.stats.jobs.bytesWritten).toBe(data.length);
    expect(r.gpu.jobLog.at(-1)).toMatchObject({ slot: 1, as: 0, head: JOB_VA, status: EXC.DONE, statusName: 'DONE', jobsDone: 1 });
  });

  it('runs a chain: fill, checksum, write value, atomic add, null', () => {
    const f = setup();
    const { r } = f;
    const d = (i: number) => JOB_VA + i * 64;
    writeJob(r.mem, JOB_PA + 0, { type: JOB.FILL, dst: OUT_VA + 2, length: 0x1500, value: 0xa1b2c3d4, next: d(1) });
    writeJob(r.mem, JOB_PA + 64, { type: JOB.CHECKSUM, src: OUT_VA + 2, dst: BUF_VA, length: 0x1500, next: d(2) });
    writeJob(r.mem, JOB_PA + 128, { type: JOB.WRITE_VALUE, dst: BUF_VA + 8, kind: 7, imm: 0x1122_3344_5566_7788n, next: d(3) });
    writeJob(r.mem, JOB_PA + 192, { type: JOB.ATOMIC_ADD, dst: BUF_VA + 4, value: 5, next: d(4) });
    writeJob(r.mem, JOB_PA + 256, { type: JOB.NULL });
    fillVa(f, f.bufPages, BUF_VA, BUF_VA + 4, Uint8Array.of(40, 0, 0, 0));
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.DONE);
    const filled = readVa(f, f.outPages, OUT_VA, OUT_VA + 2, 0x1500);
    const expected = Uint8Array.from({ length: 0x1500 }, (_, i) => [0xd4, 0xc3, 0xb2, 0xa1][i % 4]!);
    expect(filled).toEqual(expected);
    const le32 = (b: Uint8Array) => new DataView(b.buffer).getUint32(0, true);
    expect(le32(readVa(f, f.bufPages, BUF_VA, BUF_VA, 4))).toBe(fnv1a(expected));
    expect(le32(readVa(f, f.bufPages, BUF_VA, BUF_VA + 4, 4))).toBe(45);
    expect(new DataView(readVa(f, f.bufPages, BUF_VA, BUF_VA + 8, 8).buffer).getBigUint64(0, true)).toBe(0x1122_3344_5566_7788n);
    for (let i = 0; i < 5; i++) expect(r.mem.read32(JOB_PA + i * 64)).toBe(EXC.DONE);
    expect(r.r32(js(0, JS.TAIL_LO))).toBe(d(4));
    expect(r.gpu.jobLog.at(-1)!.jobsDone).toBe(5);
  });

  it('executes descriptors built with the exported encoder and checksum', () => {
    const f = setup();
    const { r } = f;
    const data = pattern(100, 9);
    fillVa(f, f.bufPages, BUF_VA, BUF_VA, data);
    r.mem.writeBytes(JOB_PA, encodeMaliJob({ type: MALI_JOB_TYPE_COPY, src: BUF_VA, dst: OUT_VA, length: 100, next: JOB_VA + 64 }));
    r.mem.writeBytes(JOB_PA + 64, encodeMaliJob({ type: MALI_JOB_TYPE_FILL, dst: OUT_VA + 100, length: 4, value: 0 }));
    submit(r, 2, 0, JOB_VA);
    expect(status(r, 2)).toBe(EXC.DONE);
    expect(readVa(f, f.outPages, OUT_VA, OUT_VA, 100)).toEqual(data);
    expect(maliChecksum(data)).toBe(fnv1a(data));
  });

  it('leaves the descriptors alone when JS_CONFIG disables the write-back', () => {
    const f = setup();
    writeJob(f.r.mem, JOB_PA, { type: JOB.NULL });
    submit(f.r, 0, 0, JOB_VA, JS_CONFIG_DISABLE_DESCRIPTOR_WR_BK);
    expect(status(f.r, 0)).toBe(EXC.DONE);
    expect(f.r.mem.read32(JOB_PA)).toBe(0);
  });
});

describe('Mali job faults', () => {
  it('stalls on an unmapped heap page, then continues once the driver maps it and flushes (growable heap)', () => {
    const f = setup();
    const { r, t } = f;
    const heapPa = 0x0600_0000;
    const data = pattern(0x3000, 3);
    fillVa(f, f.bufPages, BUF_VA, BUF_VA, data);
    t.map(HEAP_VA, heapPa, 0x1000); // only the first heap page is there
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src: BUF_VA, dst: HEAP_VA, length: data.length });
    const log: string[] = [];
    // panfrost's MMU handler: hard part masks, thread part reads the fault, clears, maps 2 MiB, flushes
    r.board.irq.onIrq(32 + 21, () => {
      if (!r.r32(REG.MMU_INT_STAT)) return;
      r.w32(REG.MMU_INT_MASK, 0);
      let st = r.r32(REG.MMU_INT_RAWSTAT);
      while (st) {
        const n = 31 - Math.clz32((st | (st >>> 16)) & -(st | (st >>> 16)));
        const fs = r.r32(as(n, AS.FAULTSTATUS));
        const va = r.r32(as(n, AS.FAULTADDRESS_LO));
        r.w32(REG.MMU_INT_CLEAR, (1 << n) | (1 << (16 + n)));
        log.push(`fault AS${n} va=0x${va.toString(16)} type=0x${(fs & 0xff).toString(16)} access=${(fs >> 8) & 3}`);
        const chunk = va - (va % 2 ** 21);
        t.map(chunk, heapPa, 2 ** 21);
        mmuOp(r, n, chunk, 2 ** 21, AS_CMD.FLUSH_PT);
        st = r.r32(REG.MMU_INT_RAWSTAT);
      }
      r.w32(REG.MMU_INT_MASK, 0xffff_ffff);
    });
    submit(r, 0, 0, JOB_VA);
    expect(log).toEqual([`fault AS0 va=0x${(HEAP_VA + 0x1000).toString(16)} type=0xc3 access=${ACCESS.WRITE}`]);
    expect(status(r, 0)).toBe(EXC.DONE);
    expect(r.mem.readBytes(heapPa, data.length)).toEqual(data);
    expect(r.gpu.stats.jobs.resumes).toBeGreaterThanOrEqual(1);
  });

  it('kills the job with the fault code when the driver disables the address space (terminal fault)', () => {
    const f = setup();
    const { r } = f;
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src: BUF_VA, dst: 0x3800_0000, length: 16 });
    submit(r, 1, 0, JOB_VA);
    expect(status(r, 1)).toBe(EXC.ACTIVE); // stalled, no job interrupt yet
    expect(r.r32(REG.JOB_INT_RAWSTAT)).toBe(0);
    expect(r.gpu.jobs.slotState(1)).toBe('stalled');
    expect(r.r32(REG.MMU_INT_RAWSTAT)).toBe(1);
    // panfrost: clear, decide it is not a heap fault, disable the AS
    r.w32(REG.MMU_INT_CLEAR, 0x1_0001);
    disableAs(r, 0);
    r.gpu.settle();
    expect(status(r, 1)).toBe(EXC.TRANSLATION_FAULT_0 + 2);
    expect(r.r32(REG.JOB_INT_RAWSTAT)).toBe(1 << (16 + 1)); // slot 1 failure bit
    expect(r.gpu.jobLog.at(-1)).toMatchObject({ slot: 1, status: 0xc2, statusName: 'TRANSLATION_FAULT_2', faultVa: 0x3800_0000 });
  });

  it('writes the failure code and fault pointer into the descriptor when the AS still maps it', () => {
    const f = setup();
    const { r } = f;
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src: BUF_VA, dst: 0x3800_0000, length: 16 });
    submit(r, 0, 0, JOB_VA);
    r.w32(js(0, JS.COMMAND), JS_CMD_HARD_STOP);
    expect(status(r, 0)).toBe(EXC.TERMINATED);
    expect(r.mem.read32(JOB_PA)).toBe(EXC.TERMINATED);
    expect(r.mem.read64(JOB_PA + 8)).toBe(0x3800_0000n);
  });

  it('SOFT_STOP ends a stalled chain with STOPPED and JS_TAIL on the job to resume from', () => {
    const f = setup();
    const { r } = f;
    writeJob(r.mem, JOB_PA, { type: JOB.NULL, next: JOB_VA + 64 });
    writeJob(r.mem, JOB_PA + 64, { type: JOB.COPY, src: 0x3800_0000, dst: OUT_VA, length: 4 });
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.ACTIVE);
    r.w32(js(0, JS.COMMAND), JS_CMD_SOFT_STOP);
    expect(status(r, 0)).toBe(EXC.STOPPED);
    expect(r.r32(js(0, JS.TAIL_LO))).toBe(JOB_VA + 64);
    expect(r.r32(REG.JOB_INT_RAWSTAT)).toBe(1 << 16);
  });

  it('fails a chain whose descriptor sits at an unmapped VA (the fetch faults, source = job manager)', () => {
    const f = setup();
    const { r } = f;
    submit(r, 2, 0, 0x5000_0000);
    expect(status(r, 2)).toBe(EXC.ACTIVE);
    const fs = r.r32(as(0, AS.FAULTSTATUS));
    expect(fs & 0xff).toBe(EXC.TRANSLATION_FAULT_0 + 1);
    expect((fs >>> 8) & 3).toBe(ACCESS.READ);
    expect(fs >>> 16).toBe(2 << 4); // slot 2, job-manager unit
    expect(r.r32(as(0, AS.FAULTADDRESS_LO))).toBe(0x5000_0000);
  });

  it('fails at once in an address space that was never enabled (unmapped mode)', () => {
    const f = setup();
    submit(f.r, 0, 3, JOB_VA);
    expect(status(f.r, 0)).toBe(EXC.TRANSLATION_FAULT_0);
    expect(f.r.r32(REG.MMU_INT_RAWSTAT)).toBe(1 << 3);
  });

  it('fails with JOB_BUS_FAULT when a page maps to a PA where there is no RAM, and flags the AS bus error', () => {
    const f = setup();
    const { r, t } = f;
    t.map(OUT_VA, 0xf000_0000, 0x1000);
    mmuOp(r, 0, OUT_VA, 0x1000, AS_CMD.FLUSH_PT);
    writeJob(r.mem, JOB_PA, { type: JOB.FILL, dst: OUT_VA, length: 8, value: 1 });
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.JOB_BUS_FAULT);
    expect(r.r32(REG.MMU_INT_RAWSTAT)).toBe(1 << 16);
    expect(r.r32(as(0, AS.FAULTSTATUS)) & 0xff).toBe(EXC.JOB_BUS_FAULT);
  });
});

describe('Mali job slots', () => {
  it('queues a second chain in NEXT while the first runs, and runs it after (manual execution)', () => {
    const r = rk3399([prop.string('gki,job-execution', 'manual')]);
    const f = setup(r);
    writeJob(r.mem, JOB_PA, { type: JOB.FILL, dst: OUT_VA, length: 4, value: 1 });
    writeJob(r.mem, JOB_PA + 64, { type: JOB.FILL, dst: OUT_VA + 4, length: 4, value: 2 });
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.ACTIVE);
    expect(r.r32(REG.JOB_INT_JS_STATE)).toBe(1);
    submit(r, 0, 0, JOB_VA + 64);
    expect(r.r32(js(0, JS.COMMAND_NEXT))).toBe(JS_CMD_START);
    expect(r.r32(REG.JOB_INT_JS_STATE)).toBe(1 | (1 << 16));
    r.gpu.run();
    expect(status(r, 0)).toBe(EXC.DONE);
    expect(r.r32(REG.JOB_INT_JS_STATE)).toBe(0);
    expect(r.mem.read32(f.outPages[0]!)).toBe(1);
    expect(r.mem.read32(f.outPages[0]! + 4)).toBe(2);
    expect(r.gpu.stats.jobs.chainsDone).toBe(2);
  });

  it('stalls a job on a locked region until the region is flushed', () => {
    const r = rk3399([prop.string('gki,job-execution', 'manual')]);
    const f = setup(r);
    writeJob(r.mem, JOB_PA, { type: JOB.FILL, dst: OUT_VA, length: 4, value: 9 });
    const region = lockRegion(OUT_VA, 0x1000);
    r.w32(as(0, AS.LOCKADDR_LO), Number(region & 0xffff_ffffn));
    r.w32(as(0, AS.LOCKADDR_HI), 0);
    r.w32(as(0, AS.COMMAND), AS_CMD.LOCK);
    r.gpu.settle();
    submit(r, 0, 0, JOB_VA);
    r.gpu.run();
    expect(r.gpu.jobs.slotState(0)).toBe('stalled');
    expect(r.r32(REG.MMU_INT_RAWSTAT)).toBe(0); // waiting on a lock is not a fault
    r.w32(as(0, AS.COMMAND), AS_CMD.UNLOCK);
    r.gpu.settle();
    r.gpu.run();
    expect(status(r, 0)).toBe(EXC.DONE);
    expect(r.mem.read32(f.outPages[0]!)).toBe(9);
  });

  it('waits for an UPDATE still in progress before translating (panfrost submits right after UPDATE)', () => {
    const r = rk3399([prop.u32('gki,mmu-latency', 20)]);
    resetAndPowerUp(r);
    const t = new MaliTables(r.mem, TABLES);
    t.map(JOB_VA, JOB_PA, 0x1000);
    t.map(OUT_VA, 0x0500_0000, 0x1000);
    writeJob(r.mem, JOB_PA, { type: JOB.FILL, dst: OUT_VA, length: 4, value: 0x77 });
    r.w32(as(0, AS.TRANSTAB_LO), Number(t.transtab()));
    r.w32(as(0, AS.COMMAND), AS_CMD.UPDATE); // not waited for
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.ACTIVE);
    while (r.r32(as(0, AS.STATUS)) & 1);
    expect(status(r, 0)).toBe(EXC.DONE);
    expect(r.mem.read32(0x0500_0000)).toBe(0x77);
  });

  it('rejects bad programming with job exceptions instead of running it', () => {
    const f = setup();
    const { r } = f;
    submit(r, 0, 0, JOB_VA + 8); // misaligned descriptor
    expect(status(r, 0)).toBe(EXC.JOB_CONFIG_FAULT);
    r.mem.write32(JOB_PA + 0x10, 0x20 << 1); // 64-bit bit clear
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.JOB_CONFIG_FAULT);
    writeJob(r.mem, JOB_PA, { type: 0x55 }); // unknown type
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.JOB_CONFIG_FAULT);
    expect(r.gpu.events.at(-1)).toMatch(/not a job this GPU runs/);
    writeJob(r.mem, JOB_PA, { type: JOB.NULL, next: JOB_VA + 4 }); // misaligned next
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.JOB_CONFIG_FAULT);
    writeJob(r.mem, JOB_PA, { type: JOB.NULL });
    submit(r, 0, 9, JOB_VA); // AS 9 does not exist (AS_PRESENT = 0xff)
    expect(status(r, 0)).toBe(EXC.JOB_CONFIG_FAULT);
    const t720 = maliRig({ compatible: ['arm,mali-t720'] }); // 4 address spaces
    resetAndPowerUp(t720);
    submit(t720, 0, 4, 0x1000);
    expect(status(t720, 0)).toBe(EXC.JOB_CONFIG_FAULT);
  });

  it('refuses to run on unpowered cores (JOB_POWER_FAULT)', () => {
    const r = rk3399();
    submit(r, 0, 0, 0x1000); // no power-up
    expect(status(r, 0)).toBe(EXC.JOB_POWER_FAULT);
    expect(r.gpu.events.at(-1)).toMatch(/no powered shader core/);
  });

  it('hangs on a looping chain until HARD_STOP, which terminates it', () => {
    const f = setup(rk3399());
    const { r } = f;
    writeJob(r.mem, JOB_PA, { type: JOB.NULL, next: JOB_VA });
    r.gpu.jobs.maxChainJobs = 1000;
    submit(r, 0, 0, JOB_VA);
    expect(r.gpu.jobs.slotState(0)).toBe('hung');
    expect(status(r, 0)).toBe(EXC.ACTIVE);
    expect(r.r32(REG.GPU_STATUS) & 1).toBe(1);
    r.w32(js(0, JS.COMMAND), JS_CMD_HARD_STOP);
    expect(status(r, 0)).toBe(EXC.TERMINATED);
    expect(r.r32(REG.GPU_STATUS) & 1).toBe(0);
  });

  it('lets a soft reset abandon everything in flight', () => {
    const f = setup();
    const { r } = f;
    writeJob(r.mem, JOB_PA, { type: JOB.COPY, src: 0x3800_0000, dst: OUT_VA, length: 4 });
    submit(r, 0, 0, JOB_VA);
    expect(r.gpu.jobs.slotState(0)).toBe('stalled');
    r.w32(REG.GPU_CMD, 1);
    r.gpu.settle();
    expect(r.gpu.jobs.slotState(0)).toBe('idle');
    expect(r.r32(REG.JOB_INT_RAWSTAT)).toBe(0);
    expect(r.r32(REG.MMU_INT_RAWSTAT)).toBe(0);
    expect(r.gpu.mmu.tlbSize(0)).toBe(0);
    expect(r.gpu.mmu.unmapped(0)).toBe(true);
    // and the GPU works again after the driver's usual bring-up
    resetAndPowerUp(r);
    enableAs(r, 0, f.t.transtab());
    writeJob(r.mem, JOB_PA, { type: JOB.FILL, dst: OUT_VA, length: 4, value: 6 });
    submit(r, 0, 0, JOB_VA);
    expect(status(r, 0)).toBe(EXC.DONE);
  });
});
