export * from './lpae-ref.js';
export * from './v7s-ref.js';
export * from './rng.js';
export * from './readme.js';
export * from './readme-blocks.js';
