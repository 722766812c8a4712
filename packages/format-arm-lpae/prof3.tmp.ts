import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { createArmLpaeOps, type ArmLpaeIoPgtable } from './src/index.js';
const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 64 * 2 ** 20 }]));
const out = { mapped: 0 };
function run(ops: ArmLpaeIoPgtable) {
  for (let i = 0; i < 262144; i += 512) { out.mapped = 0; ops.mapPages(i * 4096, i * 4096, 4096, 512, 7, out); }
}
for (let r = 0; r < 8; r++) {
  const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true }, null)!;
  const t = performance.now(); run(ops); const t2 = performance.now();
  ops.free();
  const t3 = performance.now();
  console.log('map512', ((t2 - t) * 1e6 / 262144).toFixed(2), 'ns/page; free', ((t3 - t2) * 1e6 / 262144).toFixed(2));
}
