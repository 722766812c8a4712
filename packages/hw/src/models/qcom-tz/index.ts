export * from './tz.js';
export * from './factory.js';
