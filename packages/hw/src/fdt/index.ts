export * from './types.js';
export * from './parse.js';
export * from './write.js';
export * from './read.js';
export * from './address.js';
export * from './build.js';
export * from './irq.js';
export * from './dts/index.js';
