export * from './regs.js';
export * from './presets.js';
export * from './smmu.js';
export * from './factory.js';
