import { qcomIommuModule } from './module.js';

export * from './regs.js';
export * from './qcom-iommu.js';
export * from './module.js';

/** The module descriptor (what the image composer and the module loader take). */
export default qcomIommuModule;
