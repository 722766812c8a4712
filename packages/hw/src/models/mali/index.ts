export * from './regs.js';
export * from './presets.js';
export * from './descriptor.js';
export { MaliMmu, MALI_TR_OK, MALI_TR_STALL, type MaliFaultRecord, type MaliMmuStats } from './mmu.js';
export { MaliJobManager, type MaliJobRecord, type MaliJobStats } from './jobs.js';
export { MaliGpu, type MaliGpuOptions, type MaliGpuStats } from './gpu.js';
export { createMaliModel, MALI_IRQ_NAMES } from './factory.js';
