export * from './types.js';
export * from './registry.js';
export * from './alloc.js';
export * from './range.js';
export * from './module.js';
export * from './kmi.js';
