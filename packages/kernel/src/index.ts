export * from './errno.js';
export * from './log.js';
export * from './page-alloc.js';
export * from './module/types.js';
export * from './kernel.js';
export * from './module/loader.js';
export * from './driver/core.js';
export * from './of/of.js';
