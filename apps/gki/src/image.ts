import type { KernelImage, KernelModule } from '@gki/kernel';
import { defaultCatalogue } from './compose/catalogue.js';
import { composeDefault } from './compose/inputs.js';

/** Every module this build of gki provides (the catalogue's packages), kbuild order. */
export const AVAILABLE_MODULES: readonly KernelModule[] = defaultCatalogue()
  .entries.filter((e) => e.provider)
  .map((e) => e.provider!.build({}));

/**
 * The default image, composed from the default configuration (the GKI base with every module
 * of this build as a module, the io-pgtable core built in, seed rules): exactly what
 * `gki compose -o DIR` writes without --config. Its load order is modules.load's: kbuild order
 * (drivers/dma before drivers/iommu before drivers/gpu), each module after its dependencies and
 * pre-softdeps, so gki_dma_test loads before the SMMU drivers and the masters behind an SMMU
 * wait for it, the order a real boot with asynchronous module loading must cope with.
 */
export function defaultImage(): KernelImage {
  const r = composeDefault();
  if (!r.plan) throw new Error(`the default configuration does not compose: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.plan.kernelImage;
}
