/**
 * Identities of the Mali GPUs that the kernel's device trees name, and the choice of one from
 * a node's `compatible` list.
 *
 * Where a value was read from a real chip (the GPU_ID, the L2/CORE/TILER/MEM/MMU feature
 * words, AS_PRESENT, JS_PRESENT and the shader and L2 present masks that panfrost prints at
 * probe on that SoC), `measured` says so. The remaining registers (thread limits, texture and
 * job-slot features, coherency) hold plausible values of the architecture generation; nothing
 * in the model depends on them.
 */

export type MaliArch = 'midgard' | 'bifrost' | 'valhall';

export interface MaliPreset {
  /** Preset key, e.g. 'mali-t860' (also what `gki,mali-preset` selects). */
  readonly name: string;
  readonly arch: MaliArch;
  /** GPU_ID: product id in [31:16], version major [15:12], minor [11:4], status [3:0]. */
  readonly gpuId: number;
  readonly l2Features: number;
  readonly coreFeatures: number;
  readonly tilerFeatures: number;
  readonly memFeatures: number;
  /** [7:0] VA bits, [15:8] PA bits. */
  readonly mmuFeatures: number;
  readonly asPresent: number;
  readonly jsPresent: number;
  /** JS_FEATURES of each present slot (index = slot number). */
  readonly jsFeatures: readonly number[];
  readonly textureFeatures: readonly [number, number, number, number];
  readonly threadMaxThreads: number;
  readonly threadMaxWorkgroupSize: number;
  readonly threadMaxBarrierSize: number;
  readonly threadFeatures: number;
  readonly threadTlsAlloc: number;
  readonly coherencyFeatures: number;
  readonly afbcFeatures: number;
  /** Core masks (32 cores at most). */
  readonly shaderPresent: number;
  readonly tilerPresent: number;
  readonly l2Present: number;
  /** Core stacks (0 before Bifrost). */
  readonly stackPresent: number;
  /**
   * log2 of the smallest lock region the MMU honours. Bifrost and later need 32 KiB; a LOCK
   * whose size code asks for less locks nothing (see the README).
   */
  readonly lockMinLog2: number;
  /** Where the identity values come from. */
  readonly measured: string;
}

const MIDGARD_JS = [0x20e, 0x1fe, 0x7e] as const;
const MIDGARD_TEX: [number, number, number, number] = [0x00fe001e, 0x0000ffff, 0x9f81ffff, 0];
const BIFROST_TEX: [number, number, number, number] = [0x40ffffff, 0x0000ffff, 0xa7ffffff, 0];

function midgard(p: Pick<MaliPreset, 'name' | 'gpuId' | 'l2Features' | 'tilerFeatures' | 'mmuFeatures' | 'asPresent' | 'shaderPresent' | 'measured'>): MaliPreset {
  return {
    arch: 'midgard',
    coreFeatures: 0,
    memFeatures: 0x1,
    jsPresent: 0x7,
    jsFeatures: MIDGARD_JS,
    textureFeatures: MIDGARD_TEX,
    threadMaxThreads: 256,
    threadMaxWorkgroupSize: 256,
    threadMaxBarrierSize: 256,
    threadFeatures: 0x0a040400,
    threadTlsAlloc: 0,
    coherencyFeatures: 0x1,
    afbcFeatures: 0,
    tilerPresent: 0x1,
    l2Present: 0x1,
    stackPresent: 0,
    lockMinLog2: 12,
    ...p,
  };
}

function bifrost(
  p: Pick<MaliPreset, 'name' | 'gpuId' | 'l2Features' | 'tilerFeatures' | 'mmuFeatures' | 'shaderPresent' | 'measured'> & Partial<MaliPreset>,
): MaliPreset {
  return {
    arch: 'bifrost',
    coreFeatures: 0,
    memFeatures: 0x1,
    asPresent: 0xff,
    jsPresent: 0x7,
    jsFeatures: MIDGARD_JS,
    textureFeatures: BIFROST_TEX,
    threadMaxThreads: 768,
    threadMaxWorkgroupSize: 384,
    threadMaxBarrierSize: 384,
    threadFeatures: 0x0a040400,
    threadTlsAlloc: 0,
    coherencyFeatures: 0x1,
    afbcFeatures: 0,
    tilerPresent: 0x1,
    l2Present: 0x1,
    stackPresent: 0x1,
    lockMinLog2: 15,
    ...p,
  };
}

/** Mali-T860 MP4 of the Rockchip RK3399 (r2p0). */
export const MALI_PRESET_T860 = midgard({
  name: 'mali-t860', gpuId: 0x08602000, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, asPresent: 0xff, shaderPresent: 0xf,
  measured: 'RK3399 (panfrost probe log)',
});
/** Mali-T880: the T860's big sibling (identity registers assumed like the T860's). */
export const MALI_PRESET_T880 = midgard({
  name: 'mali-t880', gpuId: 0x08802000, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, asPresent: 0xff, shaderPresent: 0xf,
  measured: 'none (T860 values with the T880 product id)',
});
/** Mali-T760 MP4 of the Rockchip RK3288 (r0p0, status 1). */
export const MALI_PRESET_T760 = midgard({
  name: 'mali-t760', gpuId: 0x07500001, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, asPresent: 0xff, shaderPresent: 0xf,
  measured: 'RK3288 (panfrost probe log)',
});
/** Mali-T720 MP2 of the Allwinner H6 (r1p1): 33-bit VA and only four address spaces. */
export const MALI_PRESET_T720 = midgard({
  name: 'mali-t720', gpuId: 0x07201010, l2Features: 0x07110206, tilerFeatures: 0x809, mmuFeatures: 0x2821, asPresent: 0xf, shaderPresent: 0x3,
  measured: 'Allwinner H6 (panfrost probe log)',
});
/** Mali-T820 MP3 of the Amlogic S912 (r1p0); features assumed like the T720's (33-bit VA, 4 AS). */
export const MALI_PRESET_T820 = midgard({
  name: 'mali-t820', gpuId: 0x08201000, l2Features: 0x07110206, tilerFeatures: 0x809, mmuFeatures: 0x2821, asPresent: 0xf, shaderPresent: 0x7,
  measured: 'Amlogic S912: GPU_ID only; the rest assumed like the T720',
});
/** Mali-T830: as the T820 with its own product id (assumed). */
export const MALI_PRESET_T830 = midgard({
  name: 'mali-t830', gpuId: 0x08301000, l2Features: 0x07110206, tilerFeatures: 0x809, mmuFeatures: 0x2821, asPresent: 0xf, shaderPresent: 0x7,
  measured: 'none (T820 values with the T830 product id)',
});
/**
 * Mali-T604 (Samsung Exynos 5250), the first Midgard: its GPU_ID carries the odd product id
 * 0x6956 that drivers rewrite to 0x0600. Identity values other than the id assumed like the
 * T760's with four address spaces.
 */
export const MALI_PRESET_T604 = midgard({
  name: 'mali-t604', gpuId: 0x69560000, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, asPresent: 0xf, shaderPresent: 0xf,
  measured: 'none (product id from the architecture; the rest assumed)',
});
/**
 * Mali-T624 / T628 (product id 0x0620, as on the Arm Juno r0 and Exynos 5420): one product id
 * for the T62x family; identity values other than the id assumed like the T760's with four
 * address spaces.
 */
export const MALI_PRESET_T624 = midgard({
  name: 'mali-t624', gpuId: 0x06201010, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, asPresent: 0xf, shaderPresent: 0xf,
  measured: 'none (product id from the architecture; the rest assumed)',
});

/** Mali-G72 MP3 of the MediaTek MT8183 (r0p3). */
export const MALI_PRESET_G72 = bifrost({
  name: 'mali-g72', gpuId: 0x62210030, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, shaderPresent: 0x7,
  measured: 'MT8183 (panfrost probe log)',
});
/** Mali-G52 of the Amlogic G12B (S922X) (r0p0); shader mask assumed. */
export const MALI_PRESET_G52 = bifrost({
  name: 'mali-g52', gpuId: 0x72120000, l2Features: 0x07110206, tilerFeatures: 0x809, mmuFeatures: 0x2830, shaderPresent: 0x7,
  measured: 'Amlogic G12B (panfrost probe log; shader mask assumed)',
});
/** Mali-G52 r1 (2EE, one core) of the Rockchip RK3566/RK3568 and MediaTek MT8365/MT8186: 35-bit VA. */
export const MALI_PRESET_G52_R1 = bifrost({
  name: 'mali-g52-r1', gpuId: 0x74021000, l2Features: 0x07110206, coreFeatures: 0x2, tilerFeatures: 0x209, mmuFeatures: 0x2823, shaderPresent: 0x1,
  measured: 'RK3568 (panfrost probe log)',
});
/**
 * Mali-G52 r1p0 MC3 of the Rockchip RK3576 (a tree newer than v6.12): GPU_ID 0x7402 r1p0 and
 * three shader cores behind one L2 (panfrost's probe lines on that SoC); the feature words are
 * assumed to be those of the RK3568's G52 r1p0.
 */
export const MALI_PRESET_G52_R1_MC3 = bifrost({
  name: 'mali-g52-r1-mc3', gpuId: 0x74021000, l2Features: 0x07110206, coreFeatures: 0x2, tilerFeatures: 0x209, mmuFeatures: 0x2823, shaderPresent: 0x7,
  measured: 'RK3576 (panfrost probe log: GPU_ID, shader and L2 masks; feature words as the RK3568 G52 r1p0, assumed)',
});
/** Mali-G31 of the Amlogic G12A/SM1, Rockchip PX30, Allwinner H616, Renesas RZ/G2L: 33-bit VA. */
export const MALI_PRESET_G31 = bifrost({
  name: 'mali-g31', gpuId: 0x70930000, l2Features: 0x07100206, tilerFeatures: 0x209, mmuFeatures: 0x2821, shaderPresent: 0x1,
  measured: 'Amlogic SM1 and Allwinner H616 (panfrost probe logs)',
});
/** Mali-G57 MC3 (Valhall, job manager) of the MediaTek MT8188 (r0p0). */
export const MALI_PRESET_G57 = bifrost({
  name: 'mali-g57', arch: 'valhall', gpuId: 0x90930000, l2Features: 0x08130206, tilerFeatures: 0x809, mmuFeatures: 0x2830, shaderPresent: 0x10005,
  measured: 'MT8188 (panfrost probe log)',
});

/** Mali-G57 MC1 r0p1 of the Allwinner A523/A527/T527 (sun55i, a tree newer than v6.12): product id 0x9091. */
export const MALI_PRESET_G57_MC1 = bifrost({
  name: 'mali-g57-mc1', arch: 'valhall', gpuId: 0x90910010, l2Features: 0x07110206, tilerFeatures: 0x809, mmuFeatures: 0x2830, shaderPresent: 0x1,
  measured: 'Allwinner A523 (panfrost probe log)',
});

/** The MT8188's Mali-G57 with one core fused out, as the MediaTek MT8370 (Genio 510) has it. */
export const MALI_PRESET_G57_MC2 = bifrost({
  name: 'mali-g57-mc2', arch: 'valhall', gpuId: 0x90930000, l2Features: 0x08130206, tilerFeatures: 0x809, mmuFeatures: 0x2830, shaderPresent: 0x5,
  measured: 'MT8370 Genio 510 (panfrost probe log)',
});

/**
 * Mali-G57 MC5 (Valhall, job manager) of the MediaTek MT8192: the same product id 0x9093 (r0p0)
 * as the MT8188's, five cores, its own L2 and memory features.
 */
export const MALI_PRESET_G57_MC5 = bifrost({
  name: 'mali-g57-mc5', arch: 'valhall', gpuId: 0x90930000, l2Features: 0x07130206, tilerFeatures: 0x809, mmuFeatures: 0x2830, memFeatures: 0x101, shaderPresent: 0x50045,
  measured: 'MT8192 Google Spherion (panfrost probe log, Linux 6.12)',
});

/**
 * Mali-G57 MC5 r0p1 of the MediaTek MT8195 (and its MT8395 variant): product id 0x9093 as on
 * the MT8192, revision r0p1, five cores, its own L2 and memory features.
 */
export const MALI_PRESET_G57_R0P1 = bifrost({
  name: 'mali-g57-r0p1', arch: 'valhall', gpuId: 0x90930010, l2Features: 0x07120206, tilerFeatures: 0x809, mmuFeatures: 0x2830, memFeatures: 0x301, shaderPresent: 0x50045,
  measured: 'MT8395 Genio 1200 EVK (panfrost probe log)',
});

/** Every preset by name (what `gki,mali-preset` accepts). */
export const MALI_PRESETS: Readonly<Record<string, MaliPreset>> = Object.fromEntries(
  [
    MALI_PRESET_T604,
    MALI_PRESET_T624,
    MALI_PRESET_T720,
    MALI_PRESET_T760,
    MALI_PRESET_T820,
    MALI_PRESET_T830,
    MALI_PRESET_T860,
    MALI_PRESET_T880,
    MALI_PRESET_G31,
    MALI_PRESET_G52,
    MALI_PRESET_G52_R1,
    MALI_PRESET_G52_R1_MC3,
    MALI_PRESET_G57,
    MALI_PRESET_G57_MC1,
    MALI_PRESET_G57_MC2,
    MALI_PRESET_G57_MC5,
    MALI_PRESET_G57_R0P1,
    MALI_PRESET_G72,
  ].map((p) => [p.name, p]),
);

/**
 * The preset each compatible string selects: the generic Arm compatibles of the Midgard,
 * Bifrost and Valhall-JM bindings and the SoC compatibles real trees list before them.
 * `amlogic,meson-g12a-mali` is shared by G12A/SM1 (Mali-G31) and G12B (Mali-G52): see
 * `maliPresetForCompatibles`, which looks at the root compatible for it.
 */
export const MALI_COMPATIBLE_PRESETS: Readonly<Record<string, string>> = {
  'arm,mali-t604': 'mali-t604',
  'arm,mali-t624': 'mali-t624',
  'arm,mali-t628': 'mali-t624',
  'arm,mali-t720': 'mali-t720',
  'arm,mali-t760': 'mali-t760',
  'arm,mali-t820': 'mali-t820',
  'arm,mali-t830': 'mali-t830',
  'arm,mali-t860': 'mali-t860',
  'arm,mali-t880': 'mali-t880',
  'arm,mali-bifrost': 'mali-g52',
  'arm,mali-valhall-jm': 'mali-g57',
  'allwinner,sun50i-h6-mali': 'mali-t720',
  'rockchip,rk3288-mali': 'mali-t760',
  'samsung,exynos5433-mali': 'mali-t760',
  'samsung,exynos7-mali': 'mali-t760',
  'amlogic,meson-gxm-mali': 'mali-t820',
  'rockchip,rk3399-mali': 'mali-t860',
  'amlogic,meson-g12a-mali': 'mali-g52',
  'rockchip,rk3562-mali': 'mali-g52-r1',
  'rockchip,rk3568-mali': 'mali-g52-r1',
  'rockchip,rk3576-mali': 'mali-g52-r1-mc3',
  'mediatek,mt8186-mali': 'mali-g52-r1',
  'mediatek,mt8365-mali': 'mali-g52-r1',
  'rockchip,px30-mali': 'mali-g31',
  'allwinner,sun50i-h616-mali': 'mali-g31',
  'renesas,r9a07g044-mali': 'mali-g31',
  'renesas,r9a07g054-mali': 'mali-g31',
  'mediatek,mt8183-mali': 'mali-g72',
  'mediatek,mt8183b-mali': 'mali-g72',
  'mediatek,mt8188-mali': 'mali-g57',
  'mediatek,mt8192-mali': 'mali-g57-mc5',
  'mediatek,mt8370-mali': 'mali-g57-mc2',
  'allwinner,sun55i-a523-mali': 'mali-g57-mc1',
  'mediatek,mt8195-mali': 'mali-g57-r0p1',
};

/** Every compatible string the model is instantiated for. */
export const MALI_COMPATIBLES: readonly string[] = Object.keys(MALI_COMPATIBLE_PRESETS);

/**
 * The preset for a node's compatible list (most specific first, as in the tree), or undefined
 * when none is known. `rootCompatibles` (the board's root `compatible`) tells the Amlogic G12
 * family apart: G12A and SM1 carry a Mali-G31, G12B a Mali-G52.
 */
export function maliPresetForCompatibles(compatibles: readonly string[], rootCompatibles: readonly string[] = []): MaliPreset | undefined {
  for (const c of compatibles) {
    let name = MALI_COMPATIBLE_PRESETS[c];
    if (name === undefined) continue;
    if (c === 'amlogic,meson-g12a-mali' && (rootCompatibles.includes('amlogic,g12a') || rootCompatibles.includes('amlogic,sm1'))) name = 'mali-g31';
    return MALI_PRESETS[name];
  }
  return undefined;
}

/** Product name as the kernel prints it ('t860', 'g52', ...) from the product id of GPU_ID, or 'unknown'. */
export function maliProductName(gpuId: number): string {
  const id = gpuId >>> 16;
  const names: Record<number, string> = {
    0x0600: 't600', 0x6956: 't600', 0x0620: 't620', 0x0720: 't720', 0x0750: 't760', 0x0820: 't820', 0x0830: 't830', 0x0860: 't860', 0x0880: 't880',
    0x6000: 'g71', 0x6001: 'g72', 0x7000: 'g51', 0x7001: 'g76', 0x7002: 'g52', 0x7003: 'g31', 0x9001: 'g57', 0x9003: 'g57',
  };
  // Bifrost and later ids carry arch minor/revision bits that the product name ignores.
  const key = id & 0xf000 ? id & 0xf00f : id;
  return names[key] ?? 'unknown';
}
