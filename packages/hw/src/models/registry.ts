/**
 * The device models a board instantiates by default, by `compatible`. Each model contributes
 * one `ModelDescriptor`; nothing registers itself when its module is evaluated, so importing a
 * model has no side effect. `Board.registerModel` adds or overrides entries per process, and
 * `BoardFromDtbOptions.models` lets a caller choose the table for one board.
 */
import type { ModelFactory } from '../board.js';
import { createDmaMasterModel } from './dma-master.js';
import { createMaliModel } from './mali/factory.js';
import { MALI_COMPATIBLES } from './mali/presets.js';
import { createSmmuV3Model } from './smmu-v3/factory.js';

/** A device model and the compatible strings it is instantiated for. */
export interface ModelDescriptor {
  /** Short name of the model, for listings ('smmu-v3', 'dma-master'). */
  readonly name: string;
  readonly compatibles: readonly string[];
  readonly factory: ModelFactory;
}

export const DMA_MASTER_MODEL: ModelDescriptor = { name: 'dma-master', compatibles: ['gki,dma-master'], factory: createDmaMasterModel };
export const SMMU_V3_MODEL: ModelDescriptor = { name: 'smmu-v3', compatibles: ['arm,smmu-v3'], factory: createSmmuV3Model };
/** Arm Mali Midgard / Bifrost / Valhall-JM GPU: the generic `arm,mali-*` and the SoC compatibles. */
export const MALI_MODEL: ModelDescriptor = { name: 'mali', compatibles: MALI_COMPATIBLES, factory: createMaliModel };

/** Every model of the package, the table `Board.fromDtb` uses unless told otherwise. */
export const BUILTIN_MODELS: readonly ModelDescriptor[] = [DMA_MASTER_MODEL, SMMU_V3_MODEL, MALI_MODEL];
