export * from './minor.js';
export * from './handles.js';
export * from './device.js';
export * from './time.js';
export * from './gem.js';
export * from './mm.js';
export * from './vma-manager.js';
