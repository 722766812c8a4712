import { ioPgtableArmModule } from './module.js';

export * from './geometry.js';
export * from './ops.js';
export * from './module.js';
export {
  ARM_LPAE_MAIR,
  ARM_MALI_LPAE_MEMATTR,
  buildProtTemplates,
  pteToBigint,
  type AttrKind,
} from './pte.js';

/** The module descriptor (what the image composer and the module loader take). */
export default ioPgtableArmModule;
