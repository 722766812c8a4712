export * from './regs.js';
export * from './presets.js';
export * from './aux.js';
export * from './cp.js';
export * from './gpu.js';
export * from './gpu5.js';
export * from './gmu.js';
export * from './factory.js';
