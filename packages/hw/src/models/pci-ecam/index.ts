export * from './function.js';
export * from './host.js';
export * from './factory.js';
