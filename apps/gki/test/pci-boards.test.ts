/**
 * PCI functions as real masters behind SMMUs on the kernel's own trees: the FVP Base RevC
 * (`pci-host-ecam-generic` whose `iommu-map` sends every requester ID to the SMMUv3 as its
 * StreamID) and the LS1028A RDB (the ENETC integrated-endpoint ECAM bus, `iommu-map = <0 &smmu
 * 0x17 0xe>` to an MMU-500). Anchored on the SMMU architectures (STE layout, SMR/S2CR layout),
 * the PCI IOMMU binding and Linux's behaviour (of_map_id's "no match" means no IOMMU; of_iommu
 * defers until the IOMMU driver registers).
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Board, parseDtb, PciEcamHost, SmmuV2, SmmuV3, writeDtb, type FdtNode } from '@gki/hw';
import { PciDev, type Kernel } from '@gki/kernel';
import { loadBoard, loadImage, type LoadedBoard } from '../src/runtime/inputs.js';
import { bootSystem, shutdown } from '../src/runtime/system.js';
import { runDma, runStress } from '../src/runtime/workloads.js';

const BOARDS = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');
const FVP = join(BOARDS, 'arm/fvp-base-revc.dts');
const LS1028A = join(BOARDS, 'freescale/fsl-ls1028a-rdb.dts');
const MORELLO = join(BOARDS, 'arm/morello-sdp.dts');

function boot(lb: LoadedBoard): { k: Kernel; board: Board } {
  const sys = bootSystem(lb, loadImage(undefined));
  return { k: sys.kernel, board: sys.board };
}

function pciDevs(k: Kernel): PciDev[] {
  return k.drivers.allDevices().filter((d): d is PciDev => d instanceof PciDev);
}

/** A copy of `dtb` with property `name` of node `path` set to the big-endian cells given. */
function withCells(dtb: Uint8Array, path: string, name: string, cells: number[]): Uint8Array {
  const tree = parseDtb(dtb);
  let n: FdtNode = tree.root;
  for (const part of path.split('/').filter(Boolean)) n = n.children.find((c) => c.name === part)!;
  const v = new Uint8Array(cells.length * 4);
  const dv = new DataView(v.buffer);
  cells.forEach((c, i) => dv.setUint32(i * 4, c >>> 0));
  const i = n.props.findIndex((p) => p.name === name);
  if (i >= 0) n.props.splice(i, 1, { name, value: v });
  else n.props.push({ name, value: v });
  return writeDtb(tree);
}

/**
 * SMMUv3 architecture: STRTAB_BASE at 0x80, STRTAB_BASE_CFG at 0x88 (FMT 17:16, SPLIT 10:6);
 * a 2-level table's L1 descriptor holds L2Ptr in bits 51:6; an STE is 64 bytes, word 0 bit 0
 * V and bits 3:1 Config (0b101: stage 1 translates, stage 2 bypasses).
 */
function ste(board: Board, smmu: SmmuV3, sid: number): { valid: boolean; config: number } {
  // ADDR in bits 51:6 (bit 62 is RA)
  const tableBase = (smmu.read32(0x84) & 0xfffff) * 2 ** 32 + ((smmu.read32(0x80) & ~0x3f) >>> 0);
  const cfg = smmu.read32(0x88);
  const fmt = (cfg >>> 16) & 3;
  const split = (cfg >>> 6) & 0x1f;
  let addr: number;
  if (fmt === 1) {
    const l1 = tableBase + Math.floor(sid / 2 ** split) * 8;
    const lo = board.mem.read32(l1);
    const hi = board.mem.read32(l1 + 4);
    const l2 = (hi & 0xfffff) * 2 ** 32 + ((lo & ~0x3f) >>> 0);
    if (l2 === 0) return { valid: false, config: 0 };
    addr = l2 + (sid % 2 ** split) * 64;
  } else addr = tableBase + sid * 64;
  const w0 = board.mem.read32(addr);
  return { valid: (w0 & 1) === 1, config: (w0 >>> 1) & 7 };
}

describe('PCI on the Arm FVP Base RevC: the default test endpoint behind the SMMUv3', () => {
  it('enumerates 0000:00:01.0, gives it a group whose STE translates, and the dma workload drives it through the SMMU model', () => {
    const { k, board } = boot(loadBoard(FVP));
    const devs = pciDevs(k);
    expect(devs.map((d) => d.name)).toEqual(['0000:00:01.0']);
    const d = devs[0]!;
    expect(k.iommu.fwspec(d)?.ids).toEqual([0x8]); // iommu-map = <0x0 &iommu 0x0 0x10000>: StreamID = RID
    expect(k.iommu.groupOf(d)).toBeDefined();
    // of_iommu deferred the function until arm_smmu_v3 registered, then the IOMMU's registration took it
    const log = k.log.all();
    const deferred = log.findIndex((r) => r.who === 'pci 0000:00:01.0' && /IOMMU probe deferred/.test(r.msg));
    const added = log.findIndex((r) => r.who.endsWith('0000:00:01.0') && /Adding to iommu group/.test(r.msg));
    expect(deferred).toBeGreaterThanOrEqual(0);
    expect(added).toBeGreaterThan(deferred);
    const smmu = board.models.get('/iommu@2b400000') as SmmuV3;
    expect(ste(board, smmu, 0x8)).toEqual({ valid: true, config: 0b101 });
    // a stream ID nobody was told about, in the same L2 table: the driver's initial STE aborts
    // (Config 0b000, as arm_smmu_init_initial_stes with disable_bypass)
    expect(ste(board, smmu, 0x10)).toEqual({ valid: true, config: 0 });
    const t0 = smmu.stats.translations;
    const r = runDma(k, { copies: 1 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.counts!['real masters translated']).toBe(1);
    expect(r.counts!['real faults seen']).toBe(1);
    expect(r.lines.some((l) => l.startsWith('0000:00:01.0: stream 0x8 on 2b400000.iommu, DMA domain: IOVAs'))).toBe(true);
    expect(smmu.stats.translations).toBeGreaterThan(t0);
    // the workload restored the command register: bus mastering off again
    const fn = (board.models.get('/pci@40000000') as PciEcamHost).functionAt(0x8)!;
    expect(fn.busMasterEnabled).toBe(false);
    expect(fn.bar0Address).toBe(0x5000_0000); // assigned by the kernel from the bridge's ranges
    expect(shutdown(k).pagesInUse).toBe(0);
  });

  it('the stress workload maps, drives and unmaps on the PCI function', () => {
    const { k } = boot(loadBoard(FVP));
    const r = runStress(k, { seed: 7, ops: 60 });
    expect(r.problems).toEqual([]);
    expect(r.counts!['dma-map real master']).toBeGreaterThan(0);
    expect(shutdown(k).pagesInUse).toBe(0);
  });

  it('a tree whose iommu-map disagrees with the hardware makes the workload fail naming the function', () => {
    const lb = loadBoard(FVP);
    // the hardware was built from the real tree (RID 8 -> StreamID 8); the kernel is handed one
    // that sends the function to StreamID 0x108, which the SMMU then knows and 8 it does not
    lb.board.dtb = withCells(lb.board.dtb, '/pci@40000000', 'iommu-map', [0x0, 0x7, 0x100, 0x10000]);
    const { k, board } = boot(lb);
    const d = pciDevs(k)[0]!;
    expect(k.iommu.fwspec(d)?.ids).toEqual([0x108]);
    const smmu = board.models.get('/iommu@2b400000') as SmmuV3;
    expect(ste(board, smmu, 0x108)).toEqual({ valid: true, config: 0b101 });
    // StreamID 8 is in an L2 table the driver never allocated: no STE at all
    expect(ste(board, smmu, 0x8).valid).toBe(false);
    const ev = smmu.stats.events;
    const r = runDma(k, { copies: 1 });
    expect(r.ok).toBe(false);
    expect(r.counts!['real masters failed']).toBe(1);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^0000:00:01\.0 \(\/pci@40000000\/00:01\.0, stream 0x8 on 2b400000\.iommu\): device read of \d+ bytes at DMA address 0x[0-9a-f]+: fault/);
    expect(smmu.stats.events).toBeGreaterThan(ev);
    expect(shutdown(k).pagesInUse).toBe(0);
  });

  it('a requester ID outside every iommu-map entry: no IOMMU (of_map_id says so), DMA untranslated on both sides', () => {
    const lb = loadBoard(FVP);
    const dtb = withCells(lb.board.dtb, '/pci@40000000', 'iommu-map', [0x0, 0x7, 0x0, 0x8]);
    const { k, board } = boot({ ...lb, board: Board.fromDtb(dtb) });
    const d = pciDevs(k)[0]!;
    expect(k.iommu.fwspec(d)).toBeUndefined();
    expect(k.iommu.groupOf(d)).toBeUndefined();
    expect(k.log.all().some((r) => r.who === 'OF' && r.msg === '/pci@40000000: no iommu-map translation for id 0x8 on (null)')).toBe(true);
    const smmu = board.models.get('/iommu@2b400000') as SmmuV3;
    const t0 = smmu.stats.translations;
    const r = runDma(k, { copies: 1 });
    expect(r.problems).toEqual([]);
    expect(r.counts!['real masters untranslated']).toBe(1);
    expect(r.counts!['real masters translated']).toBe(0);
    expect(r.lines).toContain(r.lines.find((l) => l.startsWith('0000:00:01.0: no IOMMU (requester ID outside the host bridge\'s iommu-map): dma-direct')));
    expect(smmu.stats.translations).toBe(t0);
    expect(shutdown(k).pagesInUse).toBe(0);
  });
});

describe('PCI on the NXP LS1028A RDB: the ENETC integrated endpoints behind the MMU-500', () => {
  it('enumerates the functions the tree lists (disabled ones too, with no driver), maps RIDs 0..6 to StreamIDs 0x17..0x1d, leaves the RCEC outside the map without an IOMMU', () => {
    const { k, board } = boot(loadBoard(LS1028A));
    const devs = pciDevs(k);
    expect(devs.map((d) => d.name)).toEqual(['0000:00:00.0', '0000:00:00.1', '0000:00:00.2', '0000:00:00.3', '0000:00:00.4', '0000:00:00.5', '0000:00:00.6', '0000:00:1f.0']);
    const byName = new Map(devs.map((d) => [d.name, d]));
    expect(byName.get('0000:00:00.2')!.ofNode?.fullName).toBe('/soc/pcie@1f0000000/ethernet@0,2');
    expect([byName.get('0000:00:00.0')!.vendor, byName.get('0000:00:00.0')!.deviceId]).toEqual([0x1957, 0xe100]);
    // enetc_port1 stays disabled on the RDB: enumerated, never matched to a driver
    expect(byName.get('0000:00:00.1')!.matchDriver).toBe(false);
    expect(byName.get('0000:00:00.0')!.matchDriver).toBe(true);
    for (let f = 0; f < 7; f++) expect(k.iommu.fwspec(byName.get(`0000:00:00.${f}`)!)?.ids.map((id) => id & 0x7fff)).toEqual([0x17 + f]);
    // one multi-function device without ACS: one IOMMU group for all seven functions (pci_device_group)
    const groups = new Set([0, 1, 2, 3, 4, 5, 6].map((f) => k.iommu.groupOf(byName.get(`0000:00:00.${f}`)!)));
    expect(groups.size).toBe(1);
    expect(k.iommu.groupOf(byName.get('0000:00:1f.0')!)).toBeUndefined();
    expect(k.log.all().some((r) => r.who === 'OF' && r.msg === '/soc/pcie@1f0000000: no iommu-map translation for id 0xf8 on (null)')).toBe(true);
    // SMMU architecture: SMRn at GR0 + 0x800 + 4n (VALID bit 31, ID 14:0, MASK 30:16), S2CRn at
    // GR0 + 0xc00 + 4n (TYPE 17:16: 0 = translate). Every ENETC stream is matched and translated,
    // with the tree's stream-match-mask
    const smmu = board.models.get('/soc/iommu@5000000') as SmmuV2;
    const matched = new Map<number, number>();
    for (let i = 0; i < smmu.config.numSmr; i++) {
      const smr = smmu.read32(0x800 + 4 * i);
      if (smr >>> 31 === 1) matched.set(smr & 0x7fff, i);
    }
    for (let f = 0; f < 7; f++) {
      const i = matched.get(0x17 + f);
      expect(i, `SID ${0x17 + f}`).toBeDefined();
      expect((smmu.read32(0x800 + 4 * i!) >>> 16) & 0x7fff).toBe(0x7c00);
      expect((smmu.read32(0xc00 + 4 * i!) >>> 16) & 3).toBe(0);
    }
    const r = runDma(k, { copies: 1 });
    expect(r.problems).toEqual([]);
    expect(r.counts!['real masters translated']).toBeGreaterThanOrEqual(7);
    expect(r.counts!['real masters untranslated']).toBe(1);
    expect(r.counts!['real faults seen']).toBe(r.counts!['real masters translated']);
    for (let f = 0; f < 7; f++) expect(r.lines.some((l) => l.startsWith(`0000:00:00.${f}: stream 0x${(0x17 + f).toString(16)} on 5000000.iommu, DMA domain`))).toBe(true);
    expect(shutdown(k).pagesInUse).toBe(0);
  });
});

describe('the Arm Morello SDP (a tree newer than v6.12): three SMMUv3s, two ECAM hosts, the display processor', () => {
  it('puts each host\'s function behind its own SMMUv3 (StreamID = RID), the DPU on five streams of a third, and drives all three', () => {
    // morello-sdp.dts: pcie@28c0000000 (domain 0) has iommu-map = <0 &smmu_pcie 0 0x10000>,
    // pcie@4fc0000000 (domain 1) <0 &smmu_ccix 0 0x10000>; display@2cc00000 lists
    // <&smmu_dp 0>, <&smmu_dp 1>, <&smmu_dp 2>, <&smmu_dp 3>, <&smmu_dp 8>. Each SMMUv3 has a
    // 256 KiB window (pages 0 and 1) and named eventq/gerror/(priq)/cmdq-sync interrupts.
    const { k, board } = boot(loadBoard(MORELLO));
    for (const name of ['2ce00000.iommu', '4f000000.iommu', '4f400000.iommu']) expect(k.drivers.findDevice(name), name).toMatchObject({ state: 'bound' });
    const devs = new Map(pciDevs(k).map((d) => [d.name, d]));
    expect([...devs.keys()].sort()).toEqual(['0000:00:01.0', '0001:00:01.0']);
    const on = (name: string) => {
      const dev = devs.get(name) ?? k.drivers.findDevice(name)!;
      const f = k.iommu.fwspec(dev)!;
      return { iommu: f.iommuFwnode.fullName, ids: [...f.ids] };
    };
    expect(on('0000:00:01.0')).toEqual({ iommu: '/iommu@4f400000', ids: [0x8] });
    expect(on('0001:00:01.0')).toEqual({ iommu: '/iommu@4f000000', ids: [0x8] });
    expect(on('2cc00000.display')).toEqual({ iommu: '/soc/iommu@2ce00000', ids: [0, 1, 2, 3, 8] });
    const smmuPcie = board.models.get('/iommu@4f400000') as SmmuV3;
    const smmuCcix = board.models.get('/iommu@4f000000') as SmmuV3;
    const smmuDp = board.models.get('/soc/iommu@2ce00000') as SmmuV3;
    expect(ste(board, smmuPcie, 0x8)).toEqual({ valid: true, config: 0b101 });
    expect(ste(board, smmuCcix, 0x8)).toEqual({ valid: true, config: 0b101 });
    for (const sid of [0, 1, 2, 3, 8]) expect(ste(board, smmuDp, sid), `DPU stream ${sid}`).toEqual({ valid: true, config: 0b101 });
    // a clean boot (the workload's deliberate after-unmap reads are logged as SMMU events later)
    expect(k.log.all().filter((l) => l.level === 'err' || l.level === 'crit')).toEqual([]);
    const r = runDma(k, { copies: 1 });
    expect(r.problems).toEqual([]);
    expect(r.counts!['real masters translated']).toBe(3);
    expect(r.counts!['real faults seen']).toBe(3);
    expect(r.lines.some((l) => l.startsWith('0000:00:01.0: stream 0x8 on 4f400000.iommu, DMA domain'))).toBe(true);
    expect(r.lines.some((l) => l.startsWith('0001:00:01.0: stream 0x8 on 4f000000.iommu, DMA domain'))).toBe(true);
    expect(r.lines.some((l) => l.startsWith('2cc00000.display: stream 0x0 (and 0x1, 0x2, 0x3, 0x8 read back) on 2ce00000.iommu'))).toBe(true);
    expect(shutdown(k).pagesInUse).toBe(0);
  });
});
