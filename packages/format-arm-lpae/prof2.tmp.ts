import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from './src/index.js';
const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 64 * 2 ** 20 }]));
const out = { mapped: 0 };
const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true }, null)!;
for (let i = 0; i < 262144; i += 512) { out.mapped = 0; ops.mapPages(i * 4096, 0x1000_0000 + i * 4096, 4096, 512, 7, out); }
function run(ops: ArmLpaeIoPgtable, base: number): number {
  let acc = 0;
  for (let i = 0; i < 262144; i++) acc += ops.iovaToPhys(base + i * 4096);
  return acc;
}
for (let r = 0; r < 6; r++) {
  const t = performance.now();
  const acc = run(ops, 0);
  const t2 = performance.now();
  console.log('iova_to_phys', ((t2 - t) * 1e6 / 262144).toFixed(1), 'ns/page', acc > 0);
}
