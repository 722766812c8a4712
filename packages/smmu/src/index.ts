import { armSmmuModule } from './module.js';

export * from './regs.js';
export * from './smmu.js';
export * from './domain.js';
export * from './impl.js';
export * from './ratelimit.js';
export * from './module.js';

/** The module descriptor (what the image composer and the module loader take). */
export default armSmmuModule;
