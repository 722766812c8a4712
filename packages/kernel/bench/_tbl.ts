import { DmaMappings } from '../src/dma/debug.js';
const t = new DmaMappings();
const dom = { type: 'dma' } as any;
for (let i = 0; i < 1024; i++) t.addPage(0xfffff - i, 4096, 0, 4096, 0, dom);
const pfn = 0xfffff - 1024;
function loop(n: number): void {
  for (let i = 0; i < n; i++) {
    t.addPage(pfn, 4096, 0, 4096, 0, dom);
    const s = t.findPage(pfn, 4096, 0, 4096, 0);
    if (s < 0) throw new Error('x');
    t.removeAt(s);
  }
}
const res: number[] = [];
for (let r = 0; r < 300; r++) {
  const t0 = performance.now();
  loop(4096);
  res.push(((performance.now() - t0) * 1e6) / 4096);
}
res.sort((a, b) => a - b);
console.log(`table add+find+remove: best ${res[0]!.toFixed(1)} median ${res[150]!.toFixed(1)} ns`);
