import { panfrostModule } from './module.js';

export * from './regs.js';
export * from './uapi.js';
export * from './exception.js';
export * from './features.js';
export * from './lock-region.js';
export * from './gem.js';
export * from './mmu.js';
export * from './job.js';
export * from './gpu.js';
export * from './file.js';
export * from './device.js';
export * from './module.js';

/** The module descriptor (what the image composer and the module loader take). */
export default panfrostModule;
