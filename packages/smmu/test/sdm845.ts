import { buildFdt, node, prop, ref, writeDtb, type DraftNode, type DraftProp } from '@gki/hw';

/*
 * The Qualcomm SDM845 SoC as arch/arm64/boot/dts/qcom/sdm845.dtsi describes it, trimmed to
 * what the IOMMU stack sees: the GIC, the application processors' MMU-500 (apps_smmu), the
 * GPU's Adreno SMMU-v2 (adreno_smmu) and the masters with `iommus`, with their node names,
 * compatibles, reg, interrupts and `iommus` as in the kernel's tree. Left out: clocks, power
 * domains, interconnects, pinctrl, OPP tables, resets, PHYs, child nodes of the QUP wrappers,
 * and nodes no IOMMU serves. Masters the SoC file disables are enabled, as a board file does.
 * The compute-bank nodes of the CDSP remote processor stay: they are not platform devices
 * (their parent is no bus), as on a real boot without the remoteproc/fastrpc drivers.
 */

const GIC_SPI = 0;
const LEVEL_HIGH = 4;
const EDGE_RISING = 1;

/** `<GIC_SPI n type>` cells for a list of SPIs. */
function spis(list: readonly number[], type = LEVEL_HIGH): number[] {
  return list.flatMap((n) => [GIC_SPI, n, type]);
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/** `reg` with two address and two size cells. */
function reg(...entries: (readonly [number, number])[]): DraftProp {
  return prop.reg(2, 2, ...entries);
}

/** The (SID, mask) pairs of an `iommus` list for apps_smmu. */
function apps(...pairs: (readonly [number, number])[]): DraftProp {
  return prop.cells('iommus', ...pairs.flatMap(([sid, mask]) => [ref('apps_smmu'), sid, mask]));
}

/** The apps_smmu context interrupts: SPIs 96..118, 181..192 and 315..343 (64 banks). */
export const APPS_SMMU_CONTEXT_SPIS = [...range(96, 118), ...range(181, 192), ...range(315, 343)];

/** Masters of apps_smmu in the trimmed tree: node path -> its (SID, mask) pairs. */
export const SDM845_APPS_MASTERS: Readonly<Record<string, readonly (readonly [number, number])[]>> = {
  '/soc@0/geniqup@8c0000': [[0x3, 0x0]],
  '/soc@0/geniqup@ac0000': [[0x6c3, 0x0]],
  '/soc@0/ufshc@1d84000': [[0x100, 0xf]],
  '/soc@0/dma-controller@1dc4000': [
    [0x704, 0x1],
    [0x706, 0x1],
    [0x714, 0x1],
    [0x716, 0x1],
  ],
  '/soc@0/crypto@1dfa000': [
    [0x704, 0x1],
    [0x706, 0x1],
    [0x714, 0x1],
    [0x716, 0x1],
  ],
  '/soc@0/ipa@1e40000': [
    [0x720, 0x0],
    [0x722, 0x0],
  ],
  '/soc@0/sdhci@8804000': [[0xa0, 0xf]],
  '/soc@0/slim@171c0000': [[0x1806, 0x0]],
  '/soc@0/video-codec@aa00000': [
    [0x10a0, 0x8],
    [0x10b0, 0x0],
  ],
  '/soc@0/camss@a00000': [
    [0x808, 0x0],
    [0x810, 0x8],
    [0xc08, 0x0],
    [0xc10, 0x8],
  ],
  '/soc@0/mdss@ae00000': [
    [0x880, 0x8],
    [0xc80, 0x8],
  ],
  '/soc@0/dma-controller@17184000': [[0x1806, 0x0]],
  '/soc@0/wifi@18800000': [[0x40, 0x1]],
};

/** Masters of adreno_smmu: node path -> stream ID. */
export const SDM845_ADRENO_MASTERS: Readonly<Record<string, number>> = {
  '/soc@0/gpu@5000000': 0,
  '/soc@0/gmu@506a000': 5,
};

export const APPS_SMMU_PATH = '/soc@0/iommu@15000000';
export const ADRENO_SMMU_PATH = '/soc@0/iommu@5040000';
export const APPS_SMMU_BASE = 0x1500_0000;
export const ADRENO_SMMU_BASE = 0x0504_0000;
export const SDM845_RAM_BASE = 0x8000_0000;

function soc(): DraftNode {
  return node(
    'soc: soc@0',
    [
      prop.u32('#address-cells', 2),
      prop.u32('#size-cells', 2),
      prop.cells('ranges', 0, 0, 0, 0, 0x10, 0),
      prop.cells('dma-ranges', 0, 0, 0, 0, 0x10, 0),
      prop.string('compatible', 'simple-bus'),
    ],
    [
      node('qupv3_id_0: geniqup@8c0000', [prop.string('compatible', 'qcom,geni-se-qup'), reg([0x008c_0000, 0x6000]), apps([0x3, 0x0]), prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges')]),
      node('qupv3_id_1: geniqup@ac0000', [prop.string('compatible', 'qcom,geni-se-qup'), reg([0x00ac_0000, 0x6000]), apps([0x6c3, 0x0]), prop.u32('#address-cells', 2), prop.u32('#size-cells', 2), prop.empty('ranges')]),
      node('ufs_mem_hc: ufshc@1d84000', [
        prop.strings('compatible', ['qcom,sdm845-ufshc', 'qcom,ufshc', 'jedec,ufs-2.0']),
        reg([0x01d8_4000, 0x2500], [0x01d9_0000, 0x8000]),
        prop.strings('reg-names', ['std', 'ice']),
        prop.cells('interrupts', ...spis([265])),
        prop.u32('lanes-per-direction', 2),
        apps([0x100, 0xf]),
      ]),
      node('cryptobam: dma-controller@1dc4000', [
        prop.string('compatible', 'qcom,bam-v1.7.0'),
        reg([0x01dc_4000, 0x24000]),
        prop.cells('interrupts', ...spis([272])),
        prop.u32('#dma-cells', 1),
        prop.u32('qcom,ee', 0),
        prop.empty('qcom,controlled-remotely'),
        apps([0x704, 0x1], [0x706, 0x1], [0x714, 0x1], [0x716, 0x1]),
      ]),
      node('crypto: crypto@1dfa000', [
        prop.string('compatible', 'qcom,crypto-v5.4'),
        reg([0x01df_a000, 0x6000]),
        prop.cells('dmas', ref('cryptobam'), 6, ref('cryptobam'), 7),
        prop.strings('dma-names', ['rx', 'tx']),
        apps([0x704, 0x1], [0x706, 0x1], [0x714, 0x1], [0x716, 0x1]),
      ]),
      node('ipa: ipa@1e40000', [
        prop.string('compatible', 'qcom,sdm845-ipa'),
        apps([0x720, 0x0], [0x722, 0x0]),
        reg([0x01e4_0000, 0x7000], [0x01e4_7000, 0x2000], [0x01e0_4000, 0x2c000]),
        prop.strings('reg-names', ['ipa-reg', 'ipa-shared', 'gsi']),
        prop.cells('interrupts', ...spis([311], EDGE_RISING), ...spis([432])),
        prop.strings('interrupt-names', ['ipa', 'gsi']),
      ]),
      node('gpu: gpu@5000000', [
        prop.strings('compatible', ['qcom,adreno-630.2', 'qcom,adreno']),
        reg([0x0500_0000, 0x40000], [0x0509_e000, 0x10]),
        prop.strings('reg-names', ['kgsl_3d0_reg_memory', 'cx_mem']),
        prop.cells('interrupts', ...spis([300])),
        prop.cells('iommus', ref('adreno_smmu'), 0),
        prop.u32('qcom,gmu', ref('gmu')),
      ]),
      node('adreno_smmu: iommu@5040000', [
        prop.strings('compatible', ['qcom,sdm845-smmu-v2', 'qcom,adreno-smmu', 'qcom,smmu-v2']),
        reg([ADRENO_SMMU_BASE, 0x10000]),
        prop.u32('#iommu-cells', 1),
        prop.u32('#global-interrupts', 2),
        prop.cells('interrupts', ...spis([229, 231]), ...spis(range(364, 371), EDGE_RISING)),
      ]),
      node('gmu: gmu@506a000', [
        prop.strings('compatible', ['qcom,adreno-gmu-630.2', 'qcom,adreno-gmu']),
        reg([0x0506_a000, 0x30000], [0x0b28_0000, 0x10000], [0x0b48_0000, 0x10000]),
        prop.strings('reg-names', ['gmu', 'gmu_pdc', 'gmu_pdc_seq']),
        prop.cells('interrupts', ...spis([304, 305])),
        prop.strings('interrupt-names', ['hfi', 'gmu']),
        prop.cells('iommus', ref('adreno_smmu'), 5),
      ]),
      node('sdhc_2: sdhci@8804000', [
        prop.strings('compatible', ['qcom,sdm845-sdhci', 'qcom,sdhci-msm-v5']),
        reg([0x0880_4000, 0x1000]),
        prop.cells('interrupts', ...spis([204, 222])),
        prop.strings('interrupt-names', ['hc_irq', 'pwr_irq']),
        apps([0xa0, 0xf]),
      ]),
      node('venus: video-codec@aa00000', [
        prop.string('compatible', 'qcom,sdm845-venus-v2'),
        reg([0x0aa0_0000, 0xff000]),
        prop.cells('interrupts', ...spis([174])),
        apps([0x10a0, 0x8], [0x10b0, 0x0]),
        // not a bus: its children are the driver's business
      ], [node('video-core0', [prop.string('compatible', 'venus-decoder')]), node('video-core1', [prop.string('compatible', 'venus-encoder')])]),
      node('camss: camss@a00000', [
        prop.string('compatible', 'qcom,sdm845-camss'),
        reg(
          [0x0acb_3000, 0x1000], [0x0acb_a000, 0x1000], [0x0acc_8000, 0x1000], [0x0ac6_5000, 0x1000], [0x0ac6_6000, 0x1000],
          [0x0ac6_7000, 0x1000], [0x0ac6_8000, 0x1000], [0x0aca_f000, 0x4000], [0x0acb_6000, 0x4000], [0x0acc_4000, 0x4000],
        ),
        prop.strings('reg-names', ['csid0', 'csid1', 'csid2', 'csiphy0', 'csiphy1', 'csiphy2', 'csiphy3', 'vfe0', 'vfe1', 'vfe_lite']),
        prop.cells('interrupts', ...spis([464, 466, 468, 477, 478, 479, 448, 465, 467, 469])),
        apps([0x808, 0x0], [0x810, 0x8], [0xc08, 0x0], [0xc10, 0x8]),
      ]),
      node('mdss: mdss@ae00000', [
        prop.string('compatible', 'qcom,sdm845-mdss'),
        reg([0x0ae0_0000, 0x1000]),
        prop.string('reg-names', 'mdss'),
        prop.cells('interrupts', ...spis([83])),
        prop.empty('interrupt-controller'),
        prop.u32('#interrupt-cells', 1),
        apps([0x880, 0x8], [0xc80, 0x8]),
        prop.u32('#address-cells', 2),
        prop.u32('#size-cells', 2),
        prop.empty('ranges'),
      ], [node('mdss_mdp: mdp@ae01000', [prop.string('compatible', 'qcom,sdm845-dpu'), reg([0x0ae0_1000, 0x8f000], [0x0aeb_0000, 0x2008])])]),
      node('apps_smmu: iommu@15000000', [
        prop.strings('compatible', ['qcom,sdm845-smmu-500', 'arm,mmu-500']),
        reg([APPS_SMMU_BASE, 0x80000]),
        prop.u32('#iommu-cells', 2),
        prop.u32('#global-interrupts', 1),
        prop.cells('interrupts', ...spis([65, ...APPS_SMMU_CONTEXT_SPIS])),
      ]),
      node('slim: slim@171c0000', [
        prop.string('compatible', 'qcom,slim-ngd-v2.1.0'),
        reg([0x171c_0000, 0x2c000]),
        prop.cells('interrupts', ...spis([163])),
        prop.string('status', 'okay'),
        prop.cells('dmas', ref('slimbam'), 3, ref('slimbam'), 4, ref('slimbam'), 5, ref('slimbam'), 6),
        prop.strings('dma-names', ['rx', 'tx', 'tx2', 'rx2']),
        apps([0x1806, 0x0]),
        prop.u32('#address-cells', 1),
        prop.u32('#size-cells', 0),
      ]),
      node('intc: interrupt-controller@17a00000', [
        prop.string('compatible', 'arm,gic-v3'),
        prop.u32('#address-cells', 2),
        prop.u32('#size-cells', 2),
        prop.empty('ranges'),
        prop.u32('#interrupt-cells', 3),
        prop.empty('interrupt-controller'),
        reg([0x17a0_0000, 0x10000], [0x17a6_0000, 0x100000]),
      ]),
      node('slimbam: dma-controller@17184000', [
        prop.string('compatible', 'qcom,bam-v1.7.0'),
        prop.empty('qcom,controlled-remotely'),
        reg([0x1718_4000, 0x2a000]),
        prop.u32('num-channels', 31),
        prop.cells('interrupts', ...spis([164])),
        prop.u32('#dma-cells', 1),
        prop.u32('qcom,ee', 1),
        prop.u32('qcom,num-ees', 2),
        apps([0x1806, 0x0]),
      ]),
      node('wifi: wifi@18800000', [
        prop.string('compatible', 'qcom,wcn3990-wifi'),
        reg([0x1880_0000, 0x800000]),
        prop.string('reg-names', 'membase'),
        prop.cells('interrupts', ...spis(range(414, 425))),
        apps([0x40, 0x1]),
      ]),
    ],
  );
}

/** The CDSP remote processor with its fastrpc compute banks (iommus on nodes that are not devices). */
function cdsp(): DraftNode {
  const cb = (n: number) =>
    node(`compute-cb@${n}`, [prop.string('compatible', 'qcom,fastrpc-compute-cb'), prop.u32('reg', n), apps([0x1400 + n, 0x30])]);
  return node('cdsp_pas: remoteproc-cdsp', [prop.string('compatible', 'qcom,sdm845-cdsp-pas'), prop.cells('interrupts', ...spis([578], EDGE_RISING)), prop.string('status', 'okay')], [
    node('glink-edge', [prop.cells('interrupts', ...spis([574], EDGE_RISING)), prop.string('label', 'turing')], [
      node('fastrpc', [prop.string('compatible', 'qcom,fastrpc'), prop.string('label', 'cdsp'), prop.u32('#address-cells', 1), prop.u32('#size-cells', 0)], [cb(1), cb(2), cb(3)]),
    ]),
  ]);
}

/** The trimmed SDM845 tree with `ramSize` bytes of RAM at 0x80000000 (the bootloader fills the size in). */
export function sdm845Dtb(ramSize = 0x4000_0000): Uint8Array {
  return writeDtb(
    buildFdt({
      root: node(
        '',
        [
          prop.string('model', 'Qualcomm SDM845 (IOMMU subset)'),
          prop.strings('compatible', ['qcom,sdm845']),
          prop.u32('interrupt-parent', ref('intc')),
          prop.u32('#address-cells', 2),
          prop.u32('#size-cells', 2),
        ],
        [
          node('chosen'),
          node(`memory@${SDM845_RAM_BASE.toString(16)}`, [prop.string('device_type', 'memory'), reg([SDM845_RAM_BASE, ramSize])]),
          node('firmware', [], [node('scm', [prop.strings('compatible', ['qcom,scm-sdm845', 'qcom,scm'])])]),
          cdsp(),
          soc(),
        ],
      ),
    }),
  );
}
