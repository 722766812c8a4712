export * from './pgtable.js';
export * from './failnth.js';
export * from './dtb.js';
export * from './smmu.js';
export * from './campaign.js';
