export * from './iommu.js';
export * from './factory.js';
