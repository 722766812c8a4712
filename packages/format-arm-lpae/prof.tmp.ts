import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { createArmLpaeOps } from './src/index.js';
const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 64 * 2 ** 20 }]));
const out = { mapped: 0 };
let t0 = performance.now();
for (let r = 0; r < 20; r++) {
  const ops = createArmLpaeOps(kernel, 'ARM_64_LPAE_S1', { quirks: 0, pgsizeBitmap: 0x40201000, ias: 48, oas: 48, coherentWalk: true }, null)!;
  const t = performance.now();
  for (let i = 0; i < 262144; i++) { out.mapped = 0; ops.mapPages(2 ** 32 + i * 4096, 2 ** 36 + i * 4096, 4096, 1, 7, out); }
  const t2 = performance.now();
  ops.free();
  console.log(((t2 - t) * 1e6 / 262144).toFixed(1), 'ns/page');
}
