import { AdrenoRig, Pm4, UVA, CB } from './test/adreno-helpers.js';
const COPY = 1 << 20;
const rig = new AdrenoRig();
const p0 = rig.process(); const p1 = rig.process();
rig.map(p0, UVA, COPY); rig.map(p0, UVA + COPY, COPY);
rig.map(p1, UVA, 4096); rig.map(p1, UVA + COPY, 4096);
rig.enableTtbr0(p0);
const s0 = new Pm4().switchTo(p0.root, 0, rig.memptrsVa + 0x20).memcpy(UVA + COPY, UVA, 16).fence(rig.memptrsVa + 8, 1).words;
const s1 = new Pm4().switchTo(p1.root, 0, rig.memptrsVa + 0x20).memcpy(UVA + COPY, UVA, 16).fence(rig.memptrsVa + 8, 1).words;
let t = performance.now();
for (let i = 0; i < 2000; i++) { rig.submit(i & 1 ? s1 : s0); }
console.log('switch us', (performance.now() - t) * 1000 / 2000);
const cp = new Pm4().memcpy(UVA + COPY, UVA, COPY / 4);
rig.submit(new Pm4().switchTo(p0.root, 0));
t = performance.now();
for (let i = 0; i < 20; i++) { rig.v2.setCb(0, CB.TLBIALL, 0); rig.submit(cp); }
console.log('cold copy ms', (performance.now() - t) / 20, rig.smmu.tlbSize);
