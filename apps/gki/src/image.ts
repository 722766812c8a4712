import type { KernelImage, KernelModule } from '@gki/kernel';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import armLpae from '@gki/format-arm-lpae';
import armV7s from '@gki/format-arm-v7s';

/** Every module package this app knows, by kernel module name. */
export const AVAILABLE_MODULES: readonly KernelModule[] = [armLpae, armV7s];

/**
 * The default image: the io-pgtable core built in (as in every GKI), both format modules shipped
 * in the image and loaded at boot in this order (like modules.load).
 */
export function defaultImage(): KernelImage {
  return {
    builtin: [ioPgtableCoreModule],
    modules: [...AVAILABLE_MODULES],
    load: ['io-pgtable-arm', 'io-pgtable-arm-v7s'],
  };
}
