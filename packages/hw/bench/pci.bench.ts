/**
 * The PCI ECAM host model on the FVP tree: a configuration dword read through the MMIO bus
 * (what enumeration does per register), and a PCI function's DMA through its port (bus master
 * enable checked, 4 KiB pieces) with no IOMMU in its path. DMA through the SMMU is measured with
 * a driver programming it (the gki app's workloads), not here: @gki/hw cannot boot a kernel.
 * Each case is checked before it is measured.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Board, compileDtsFile, PciEcamHost, PORT_OK, writeDtb, parseDtb } from '../src/index.js';
import { allocPerOp, figures, newBench, type BenchRow } from './harness.js';

const boards = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'boards');
const READS = 4096;
const DMA_BYTES = 64 * 1024;

function fvpBoard(keepIommuMap: boolean): Board {
  const tree = parseDtb(compileDtsFile(join(boards, 'arm/fvp-base-revc.dts')).dtb);
  const host = tree.root.children.find((c) => c.name === 'pci@40000000')!;
  const i = host.props.findIndex((p) => p.name === 'iommu-map');
  if (!keepIommuMap) host.props.splice(i, 1);
  return Board.fromDtb(writeDtb(tree));
}

export function pciBench(runs: number): BenchRow[] {
  const viaSmmu = fvpBoard(true);
  const direct = fvpBoard(false);
  const rows: BenchRow[] = [];
  const cases: { name: string; board: Board }[] = [{ name: 'no IOMMU in its path (no iommu-map)', board: direct }];
  // config reads
  const bus = viaSmmu.bus;
  if (bus.read32(0x4000_8000) !== 0x0deaabcd || bus.read32(0x4000_0000) !== 0xffffffff) throw new Error('unexpected config space');
  const cfg = () => {
    let x = 0;
    for (let i = 0; i < READS; i++) x ^= bus.read32(0x4000_8000 + ((i & 15) << 2));
    return x;
  };
  const b1 = newBench(runs, 5);
  b1.add('ECAM dword read of 00:01.0 (header registers, through MmioBus)', cfg);
  b1.runSync();
  rows.push({ id: 'pci-cfg-read', group: 'PCI ECAM model (ns per config read)', case: b1.tasks[0]!.name, ...figures(b1.tasks[0]!, (ms) => (ms * 1e6) / READS), unit: 'ns/read', alloc: allocPerOp(cfg, READS, cfg) });
  // DMA through the function's port
  const b2 = newBench(runs, 5);
  const runners: (() => void)[] = [];
  for (const c of cases) {
    const fn = (c.board.models.get('/pci@40000000') as PciEcamHost).functionAt(0x08)!;
    c.board.bus.write32(0x4000_8004, 0x4); // bus master enable
    const port = fn.port!;
    const buf = new Uint8Array(DMA_BYTES);
    if (port.read(0x8000_0000, buf) !== PORT_OK) throw new Error(`${c.name}: DMA read failed`);
    const run = () => {
      port.read(0x8000_0000, buf);
    };
    runners.push(run);
    b2.add(`PCI function DMA read of 64 KiB, ${c.name}`, run);
  }
  b2.runSync();
  b2.tasks.forEach((t, i) =>
    rows.push({ id: `pci-dma-${i}`, group: 'PCI function DMA (MiB/s)', case: t.name, ...figures(t, (ms) => DMA_BYTES / 2 ** 20 / (ms / 1e3), true), unit: 'MiB/s', alloc: allocPerOp(runners[i]!, DMA_BYTES / 4096, runners[i]!) }),
  );
  return rows;
}
