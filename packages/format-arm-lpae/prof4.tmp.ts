import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from './src/index.js';
const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 64 * 2 ** 20 }]));
const out = { mapped: 0 };
const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true }, null)!;
function run(ops: ArmLpaeIoPgtable, npages: number) {
  for (let i = 0; i < npages; i++) { ops.mapPages(i * 4096, i * 4096, 4096, 1, 7, out); }
  let acc = 0;
  for (let i = 0; i < npages; i++) acc += ops.iovaToPhys(i * 4096);
  for (let i = 0; i < npages; i += 512) ops.unmapPages(i * 4096, 4096, 512, null);
  return acc;
}
for (const np of [512, 262144]) for (let r = 0; r < 4; r++) {
  const reps = 262144 / np;
  const t = performance.now(); for (let k = 0; k < reps; k++) run(ops, np); const t2 = performance.now();
  console.log(np, 'map+i2p+unmap512 per page', ((t2 - t) * 1e6 / 262144).toFixed(1));
}
