export * from './mem.js';
export * from './bus.js';
export * from './irq.js';
export * from './clock.js';
export * from './board.js';
export * from './fdt/types.js';
