import { msmModule } from './module.js';

export * from './regs.js';
export * from './uapi.js';
export * from './catalog.js';
export * from './mmu.js';
export * from './aspace.js';
export * from './gem.js';
export * from './gmu.js';
export * from './context.js';
export * from './gpu.js';
export * from './a3xx.js';
export * from './a3xx-regs.js';
export * from './a5xx.js';
export * from './a5xx-regs.js';
export * from './file.js';
export * from './device.js';
export * from './module.js';

/** The module descriptor (what the image composer and the module loader take). */
export default msmModule;
