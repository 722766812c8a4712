import { describe, expect, it } from 'vitest';
import { createDefaultBoard, parseDtb, resolveInterrupts, translatedRegs } from '@gki/hw';
import { Kernel, requestIrq, type IoMem } from '@gki/kernel';

describe('populate on the default board', () => {
  it('agrees with the board (hw side) on every device resource', () => {
    const board = createDefaultBoard();
    const k = new Kernel(board);
    k.of.populate();
    const fdt = parseDtb(board.dtb);
    const devs = k.drivers.allDevices().filter((d) => d.ofNode && d.resources.length > 0);
    expect(devs.length).toBeGreaterThanOrEqual(3);
    for (const d of devs) {
      const path = d.ofNode!.fullName;
      const regs = translatedRegs(fdt, path)!.map((r) => ({ start: r.address, end: r.address + r.size - 1 }));
      expect(d.resources.filter((r) => r.kind === 'mem').map(({ start, end }) => ({ start, end }))).toEqual(regs);
      expect(d.resources.filter((r) => r.kind === 'irq').map((r) => r.start)).toEqual(resolveInterrupts(fdt, path));
      // names follow the kernel's "<address>.<node name>" rule
      expect(d.name).toBe(`${d.resources[0]!.start.toString(16)}.${d.ofNode!.baseName}`);
    }
  });

  it('a driver reaches a board device model through ioremap and its interrupt line', () => {
    // without the SMMUv3: masters behind it would wait for an IOMMU driver this test has not
    const board = createDefaultBoard({ smmu: false });
    const k = new Kernel(board);
    k.of.populate();
    const found: { io: IoMem; irq: number }[] = [];
    let irqs = 0;
    const r = k.drivers.registerDriver({
      name: 'dma-test',
      ofMatchTable: [{ compatible: 'gki,dma-master' }],
      probe(dev) {
        const io = dev.ioremap(0);
        if (typeof io === 'number') return io;
        const irq = dev.irq(0);
        if (irq < 0) return irq;
        const e = requestIrq(dev, irq, () => irqs++);
        if (e) return e;
        found.push({ io, irq });
        return 0;
      },
    });
    expect(r).toBe(0);
    expect(found.length).toBeGreaterThanOrEqual(3);
    // every register window is decoded by a device model on the bus (reads do not bus-fault)
    for (const f of found) {
      expect(board.bus.find(f.io.start)).toBeDefined();
      expect(() => f.io.read32(0)).not.toThrow();
    }
    // raising a line the kernel resolved reaches the handler the driver registered
    board.irq.line(found[0]!.irq).raise();
    expect(irqs).toBe(1);
  });
});
