/**
 * CP_SMMU_TABLE_UPDATE: the CP itself reprograms TTBR0 (with the ASID) and CONTEXTIDR of the
 * context bank the packet names and invalidates that bank's TLB, as a6xx_set_pagetable relies
 * on. Two process tables map the same GPU virtual addresses to different memory; the GPU reads
 * each process's data after each switch, kernel buffers in TTBR1 stay reachable, and with the
 * invalidation suppressed (test-only injection) the SMMU's TLB hands out the previous process's
 * translation.
 */
import { describe, expect, it } from 'vitest';
import { AdrenoRig, CB, hi32, lo32, OP, Pm4, REG, UVA } from './adreno-helpers.js';

/** Two processes with the same VA layout: a source page holding its own data and a result page. */
function twoProcesses(rig: AdrenoRig) {
  const procs = [rig.process(), rig.process()].map((table, i) => {
    const srcPa = rig.map(table, UVA, 4096);
    const dstPa = rig.map(table, UVA + 0x10000, 4096);
    rig.mem.writeBytes(srcPa, new TextEncoder().encode(`process ${i} data`.padEnd(16, '.')));
    return { table, srcPa, dstPa };
  });
  rig.enableTtbr0(procs[0]!.table);
  return procs;
}

/** What msm emits per submit: switch to the process's table, copy its data, fence. */
function submitFor(rig: AdrenoRig, root: number, seqno: number): Pm4 {
  return new Pm4()
    .switchTo(root, 0, rig.memptrsVa + 0x20)
    .memcpy(UVA + 0x10000, UVA, 4)
    .fence(rig.memptrsVa + 8, seqno);
}

describe('Adreno CP_SMMU_TABLE_UPDATE', () => {
  it('switches the bank to each process table; each process reads its own data', () => {
    const rig = new AdrenoRig();
    const [p0, p1] = twoProcesses(rig);
    const tlbi = () => rig.smmu.stats.tlbi.TLBIALL ?? 0;
    for (let round = 0; round < 3; round++) {
      for (const [i, p] of [p0!, p1!].entries()) {
        const seqno = round * 2 + i + 1;
        rig.submit(submitFor(rig, p.table.root, seqno));
        expect(new TextDecoder().decode(rig.bytes(p.dstPa, 16))).toBe(`process ${i} data`.padEnd(16, '.'));
        expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(seqno);
        // The bank's TTBR0 is the process table with ASID 0, as written by the CP; the memstore copy matches.
        expect(rig.v2.cb64(0, CB.TTBR0)).toBe(BigInt(p.table.root));
        expect(rig.mem.read32(rig.memptrsPa + 0x20)).toBe(lo32(p.table.root));
      }
    }
    expect(tlbi()).toBe(6);
    expect(rig.smmu.stats.tlbi.TLBSYNC).toBe(6);
    expect(rig.gpu.cp.tableUpdates.at(-1)).toMatchObject({ asid: 0, contextBank: 0, invalidated: true, fault: 0 });
  });

  it('puts the ASID in TTBR0[63:48] and CONTEXTIDR as the packet gives them', () => {
    const rig = new AdrenoRig();
    const [p0] = twoProcesses(rig);
    rig.submit(new Pm4().t7(OP.SMMU_TABLE_UPDATE, lo32(p0!.table.root), (hi32(p0!.table.root) & 0xffff) | (0x5a << 16), 0x1234, 0));
    expect(rig.v2.cb64(0, CB.TTBR0)).toBe(BigInt(p0!.table.root) | (0x5an << 48n));
    expect(rig.cb(CB.CONTEXTIDR)).toBe(0x1234);
  });

  it('keeps kernel (TTBR1) buffers reachable whichever process table is current', () => {
    const rig = new AdrenoRig();
    const [p0, p1] = twoProcesses(rig);
    const k = rig.kalloc(4096);
    for (const [i, p] of [p0!, p1!].entries()) {
      rig.submit(new Pm4().switchTo(p.table.root, 0).memcpy(k.va + 16 * i, UVA, 4));
      expect(new TextDecoder().decode(rig.bytes(k.pa + 16 * i, 16))).toBe(`process ${i} data`.padEnd(16, '.'));
    }
  });

  it('without the TLB invalidation (injected), the next process reads through the stale translation', () => {
    const rig = new AdrenoRig();
    const [p0, p1] = twoProcesses(rig);
    rig.gpu.skipTableUpdateInvalidate = true;
    rig.submit(submitFor(rig, p0!.table.root, 1));
    expect(new TextDecoder().decode(rig.bytes(p0!.dstPa, 16))).toBe('process 0 data..');
    rig.submit(submitFor(rig, p1!.table.root, 2));
    // TTBR0 did change...
    expect(rig.v2.cb64(0, CB.TTBR0)).toBe(BigInt(p1!.table.root));
    // ...but both accesses hit the TLB entries cached for process 0 (same ASID): process 1's
    // copy read process 0's page and wrote into process 0's result page.
    expect(new TextDecoder().decode(rig.bytes(p1!.dstPa, 16))).toBe('\0'.repeat(16));
    expect(rig.gpu.cp.tableUpdates.at(-1)!.invalidated).toBe(false);
    expect(rig.smmu.stats.tlbi.TLBIALL ?? 0).toBe(0);
    // Switching the injection off restores the invalidation, and process 1 sees its own data.
    rig.gpu.skipTableUpdateInvalidate = false;
    rig.submit(submitFor(rig, p1!.table.root, 3));
    expect(new TextDecoder().decode(rig.bytes(p1!.dstPa, 16))).toBe('process 1 data..');
  });

  it('reports a CP hardware fault when the SMMU never completes the TLB sync', () => {
    const rig = new AdrenoRig();
    const [p0] = twoProcesses(rig);
    rig.smmu.stuckSync = true;
    rig.submit(submitFor(rig, p0!.table.root, 1));
    expect(rig.gpu.cpState).toBe('halted');
    expect(rig.r(REG.CP_INTERRUPT_STATUS) & (1 << 2)).not.toBe(0);
    expect(rig.r(REG.CP_HW_FAULT)).not.toBe(0);
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(0); // the fence never came
  });

  it('ignores a context bank the SMMU does not have (a logged event, no reprogramming)', () => {
    const rig = new AdrenoRig();
    const [p0] = twoProcesses(rig);
    const before = rig.v2.cb64(0, CB.TTBR0);
    rig.submit(new Pm4().t7(OP.SMMU_TABLE_UPDATE, lo32(p0!.table.root), 0, 0, 99).fence(rig.memptrsVa + 8, 5));
    expect(rig.v2.cb64(0, CB.TTBR0)).toBe(before);
    expect(rig.mem.read32(rig.memptrsPa + 8)).toBe(5);
    expect(rig.gpu.events.some((e) => e.includes('context bank 99'))).toBe(true);
  });
});
