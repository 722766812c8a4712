import { afterEach, describe, expect, it } from 'vitest';
import {
  CERROR_ILL,
  DMA_STATUS_DONE,
  DMA_STATUS_FAULT,
  EVT_F_TRANSLATION,
  GERROR_CMDQ_ERR,
  Q_OVF_FLAG,
  SMMU_CMDQ_CONS,
  SMMU_EVTQ_BASE,
  SMMU_EVTQ_CONS,
  SMMU_EVTQ_PROD,
  SMMU_GERROR,
  SMMU_GERRORN,
  SMMU_IRQ_CTRL,
  SMMU_STRTAB_BASE,
  SMMU_STRTAB_BASE_CFG,
} from '@gki/hw';
import { IOMMU_READ, IOMMU_WRITE, iommuAttachDevice, iommuDomainAlloc, iommuMap, iommuSetFaultHandler, iommuUnmap, type IommuDomain } from '@gki/kernel';
import { CMD_CFGI_STE, CMD_SYNC, CMD_TLBI_EL2_ALL, IRQ_CTRL_EVTQ_IRQEN, IRQ_CTRL_GERROR_IRQEN } from '../src/index.js';
import { SIDS, SMMU_BASE, boot, buffer, type Preset, type Rig } from './helpers.js';

/*
 * Software that programs the SMMU wrongly: illegal commands (CERROR_ILL, recovered by the
 * driver), a corrupted STE (C_BAD_STE), a StreamID outside the stream table (C_BAD_STREAMID)
 * and an event queue nobody drains (overflow). The model must report each architecturally and
 * the driver must keep working afterwards.
 */

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_4K = 0x1000;
const ok = (st: number) => (st & (DMA_STATUS_DONE | DMA_STATUS_FAULT)) === DMA_STATUS_DONE;
const faulted = (st: number) => (st & DMA_STATUS_FAULT) !== 0;

let rigs: Rig[] = [];
function rig(preset: Preset): Rig {
  const r = boot({ preset });
  rigs.push(r);
  return r;
}
afterEach(() => {
  for (const r of rigs) expect(r.model.hitlessViolations).toEqual([]);
  rigs = [];
});

function domain(r: Rig): IommuDomain {
  const d = iommuDomainAlloc(r.masters[0]!);
  if (typeof d === 'number') throw new Error(`domain ${d}`);
  expect(iommuAttachDevice(d, r.masters[0]!)).toBe(0);
  return d;
}

const reg = (r: Rig, off: number) => r.board.bus.read32(SMMU_BASE + off) >>> 0;

/** PA of the STE for `sid` (from STRTAB_BASE/_CFG and the L1 descriptor). */
function steAddr(r: Rig, sid: number): number {
  const base = (reg(r, SMMU_STRTAB_BASE + 4) & 0xf_ffff) * 2 ** 32 + (reg(r, SMMU_STRTAB_BASE) & 0xffff_ffc0);
  const cfg = reg(r, SMMU_STRTAB_BASE_CFG);
  if (((cfg >>> 16) & 3) === 0) return base + sid * 64;
  const split = (cfg >>> 6) & 0x1f;
  const l1 = base + Math.floor(sid / 2 ** split) * 8;
  const l2 = (r.k.mem.read32(l1 + 4) & 0xf_ffff) * 2 ** 32 + ((r.k.mem.read32(l1) & 0xffff_ffc0) >>> 0);
  return l2 + (sid % 2 ** split) * 64;
}

describe.each(['fvp', 'qemu', 'minimal'] as const)('bad programming on the %s preset', (preset) => {
  it('illegal commands stop the queue with CERROR_ILL; the driver skips them and later commands in the batch still run', () => {
    const r = rig(preset);
    const d = domain(r);
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x3000, buf, SZ_4K, RW)).toBe(0);
    expect(ok(r.dmas[0]!.checksum(0x3000, 4))).toBe(true); // cached in the TLB
    const illegal: [number, number][] = [
      [0x7f, 0], // no such opcode
      [CMD_SYNC | (3 << 12), 0], // CMD_SYNC with the reserved CS encoding
      [CMD_CFGI_STE | (1 << 10), SIDS[0]], // SSec: the model has no secure state
    ];
    if (!r.smmu.features.hyp) illegal.push([CMD_TLBI_EL2_ALL, 0]); // EL2 commands need IDR0.HYP
    const gerrorBefore = reg(r, SMMU_GERROR);
    for (const [i, [w0, w1]] of illegal.entries()) {
      // The bad command is queued in the same batch as an unmap's TLBI and CMD_SYNC.
      expect(r.smmu.cmdAdd(w0, w1, 0, 0)).toBe(0);
      if (i === 0) {
        expect(iommuUnmap(d, 0x3000, SZ_4K)).toBe(SZ_4K);
        expect(faulted(r.dmas[0]!.checksum(0x3000, 4))).toBe(true); // the TLBI after it ran
      } else {
        expect(r.smmu.syncCmdq()).toBe(0);
      }
      // The model stopped on it with CERROR_ILL in CMDQ_CONS.ERR and toggled GERROR.CMDQ_ERR.
      expect((reg(r, SMMU_CMDQ_CONS) >>> 24) & 0x7f).toBe(CERROR_ILL);
      expect(r.smmu.stats.cmdqErrors).toBe(i + 1);
      expect(((reg(r, SMMU_GERROR) ^ gerrorBefore) & GERROR_CMDQ_ERR) !== 0).toBe(i % 2 === 0);
      expect(reg(r, SMMU_GERRORN)).toBe(reg(r, SMMU_GERROR)); // acknowledged
    }
    expect(r.k.log.grep('Illegal command').length).toBe(illegal.length);
    // The queue still works: map, DMA, unmap, fault.
    expect(iommuMap(d, 0x5000, buf, SZ_4K, RW)).toBe(0);
    expect(ok(r.dmas[0]!.fill(0x5000, 4, 0x77))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(0x77);
    expect(iommuUnmap(d, 0x5000, SZ_4K)).toBe(SZ_4K);
    expect(faulted(r.dmas[0]!.fill(0x5000, 4, 0))).toBe(true);
  });

  it('an STE with a reserved Config is reported as C_BAD_STE, and traffic resumes once it is fixed', () => {
    const r = rig(preset);
    const d = domain(r);
    const buf = buffer(r.k);
    expect(iommuMap(d, 0x3000, buf, SZ_4K, RW)).toBe(0);
    const sid = SIDS[0];
    const ste = steAddr(r, sid);
    const saved = [r.k.mem.read32(ste), r.k.mem.read32(ste + 4)];
    const events = r.smmu.stats.events;
    // V = 1, Config = 0b010: reserved (bit 2 clear but not abort). Written behind the driver.
    r.k.mem.write64parts(ste, 1 | (2 << 1), saved[1]!);
    expect(r.smmu.issueRawCommand(CMD_CFGI_STE, sid, 1, 0)).toBe(0);
    expect(faulted(r.dmas[0]!.checksum(0x3000, 4))).toBe(true);
    expect(r.smmu.stats.events).toBe(events + 1);
    expect(r.k.log.grep(new RegExp(`C_BAD_STE.*sid 0x${sid.toString(16)}`)).length).toBe(1);
    expect(r.model.stats.commands.CFGI_STE).toBeGreaterThan(0);
    // An invalid STE (V = 0) is C_BAD_STE as well.
    r.k.mem.write64parts(ste, 0, 0);
    r.smmu.issueRawCommand(CMD_CFGI_STE, sid, 1, 0);
    expect(faulted(r.dmas[0]!.checksum(0x3000, 4))).toBe(true);
    expect(r.k.log.grep(/C_BAD_STE/).length).toBe(2);
    expect(r.smmu.stats.faultsReported).toBe(0); // configuration errors are not page faults
    r.k.mem.write64parts(ste, saved[0]!, saved[1]!);
    r.smmu.issueRawCommand(CMD_CFGI_STE, sid, 1, 0);
    expect(ok(r.dmas[0]!.fill(0x3000, 4, 0x99))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(0x99);
  });

  it('a StreamID beyond the stream table is C_BAD_STREAMID, not a translation', () => {
    const r = rig(preset);
    const dma = r.dmas[2]!;
    const bad = 2 ** 24 + 0x12; // beyond any SIDSIZE of the presets
    r.model.attachMaster(dma, bad);
    const buf = buffer(r.k);
    const before = r.k.mem.read32(buf);
    expect(faulted(dma.fill(buf, 4, 0x1234_5678))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(before);
    expect(r.k.log.grep(new RegExp(`C_BAD_STREAMID.*sid 0x${bad.toString(16)} \\(unknown master\\)`)).length).toBe(1);
    // A StreamID inside the table but owned by nobody: abort STE (linear) or no L2 table.
    const unused = 0x13;
    r.model.attachMaster(dma, unused);
    expect(faulted(dma.fill(buf, 4, 1))).toBe(true);
    expect(r.k.mem.read32(buf)).toBe(before);
    // Back on its own StreamID the master works again (its default DMA domain maps nothing).
    r.model.attachMaster(dma, SIDS[2]);
    expect(faulted(dma.fill(0x1000, 4, 1))).toBe(true);
    expect(r.k.log.grep(/F_TRANSLATION.*sid 0x12/).length).toBe(1);
  });

  it('an event queue nobody drains overflows: OVFLG set, events lost, the driver acknowledges and goes on', () => {
    const r = rig(preset);
    const d = domain(r);
    const dma = r.dmas[0]!;
    const seen: number[] = [];
    // Mask the event queue interrupt: records accumulate.
    r.board.bus.write32(SMMU_BASE + SMMU_IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN);
    // Records the queue holds: 2^LOG2SIZE as the driver programmed it, capped by IDR1.EVENTQS.
    const size = 2 ** Math.min(reg(r, SMMU_EVTQ_BASE) & 0x1f, r.model.caps.eventqs);
    expect(size).toBeGreaterThanOrEqual(8);
    const extra = 10;
    for (let i = 0; i < size + extra; i++) expect(faulted(dma.fill(0x100_0000 + i * SZ_4K, 4, i))).toBe(true);
    const pending = r.model.pendingEvents();
    expect(pending.length).toBe(size);
    expect(pending.every((e) => e.type === EVT_F_TRANSLATION && e.sid === SIDS[0])).toBe(true);
    expect(pending.map((e) => e.inputAddr)).toEqual(Array.from({ length: size }, (_, i) => 0x100_0000 + i * SZ_4K));
    expect(r.model.stats.eventsLost).toBe(extra);
    const prod = reg(r, SMMU_EVTQ_PROD);
    const cons = reg(r, SMMU_EVTQ_CONS);
    expect(((prod ^ cons) & Q_OVF_FLAG) >>> 0).toBe(Q_OVF_FLAG >>> 0); // overflow not yet acknowledged
    expect(r.smmu.stats.events).toBe(0);
    // The interrupt comes back (unmasked, then the handler runs as the IRQ would run it).
    r.board.bus.write32(SMMU_BASE + SMMU_IRQ_CTRL, IRQ_CTRL_GERROR_IRQEN | IRQ_CTRL_EVTQ_IRQEN);
    r.smmu.evtqHandler();
    expect(r.smmu.stats.evtqOverflows).toBe(1);
    expect(r.k.log.grep('EVTQ overflow').length).toBe(1);
    expect(r.smmu.stats.events).toBe(size);
    expect(r.model.pendingEvents()).toEqual([]);
    expect(((reg(r, SMMU_EVTQ_PROD) ^ reg(r, SMMU_EVTQ_CONS)) & Q_OVF_FLAG) >>> 0).toBe(0); // OVACKFLG = OVFLG
    // Later faults are delivered one by one again, with no new overflow.
    iommuSetFaultHandler(d, (_d, _dev, iova) => (seen.push(iova), 0));
    expect(faulted(dma.fill(0x900_0000, 4, 0))).toBe(true);
    expect(seen).toEqual([0x900_0000]);
    expect(r.smmu.stats.evtqOverflows).toBe(1);
    expect(r.model.stats.eventsLost).toBe(extra);
  });
});
