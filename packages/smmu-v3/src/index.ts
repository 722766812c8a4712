import { armSmmuV3Module } from './module.js';

export * from './regs.js';
export * from './features.js';
export * from './entry.js';
export * from './cmdq.js';
export * from './domain.js';
export * from './smmu.js';
export * from './module.js';

/** The module descriptor (what the image composer and the module loader take). */
export default armSmmuV3Module;
