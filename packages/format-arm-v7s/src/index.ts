import armV7sModule from './module.js';

export * from './descriptors.js';
export * from './engine.js';
export { armV7sInitFns } from './module.js';
export default armV7sModule;
