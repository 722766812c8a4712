import { Board } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { createArmV7sOps, type ArmV7sIoPgtable } from '../src/index.js';
const kernel = new Kernel(new Board('bench', [{ base: 0x4000_0000, size: 0x1000_0000 }]));
const P = 262144;
const PAB = Number(process.env.PABASE ?? 0x80000000);
const mapped = { mapped: 0 };
function mapRange(ops: ArmV7sIoPgtable, pgsize: number, count: number, per: number): void {
  const step = pgsize * per;
  for (let i = 0, iova = 0; i < count; i += per, iova += step) {
    const pa = pgsize === 0x100000 ? iova : PAB + iova;
    if (ops.mapPages(iova, pa, pgsize, per, 7, mapped) !== 0) throw new Error(`map failed at ${iova}`);
  }
}
const which = process.argv[2] ?? '4k';
for (let rep = 0; rep < 40; rep++) {
  const ops = createArmV7sOps(kernel, { quirks: 0, pgsizeBitmap: 0x1111000, ias: 32, oas: 32, coherentWalk: true }, null)!;
  let t = process.hrtime.bigint();
  if (which === '4k') mapRange(ops, 4096, P, 1); else mapRange(ops, 0x100000, 4096, 1);
  const tm = Number(process.hrtime.bigint() - t) / (which === '4k' ? P : 4096);
  ops.free();
  if (rep % 10 === 9) console.log(`map ${which} ${tm.toFixed(1)}`);
}
