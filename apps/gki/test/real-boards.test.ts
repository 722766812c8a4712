/**
 * Real SoC device trees from the Linux kernel (boards/, trimmed of clocks and power domains)
 * boot on the default image through the public API, as a user would: compile the DTS, build
 * the board from the blob, boot. Nothing may crash; RAM is what the tree describes; reserved
 * regions are never handed out by the page allocator; every device some driver of the image
 * matches is bound, or refused by that driver as Linux refuses it (an Adreno it does not know),
 * and every other one is left unbound; every master that names a bound SMMU in `iommus` has
 * an IOMMU group; the device models the project has for the tree's hardware are instantiated;
 * where a GPU has both a model and a driver, the workload client runs a fill/copy/checksum job
 * on it and the model in front of its DMA (the SMMU, or the Mali's own MMU) translates it.
 * Where dtc is installed, the blob dtc makes of the same source boots the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Board, compileDtsFile, preprocessDts, type DtsCompileResult, type MemRegion } from '@gki/hw';
import { Kernel } from '@gki/kernel';
import { defaultImage } from '../src/image.js';
import { gpuTargets } from '../src/runtime/gpu.js';
import { shutdown } from '../src/runtime/system.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');
const GiB = 2 ** 30;
const MiB = 2 ** 20;

interface Expect {
  readonly file: string;
  readonly name: string;
  readonly ram: MemRegion[];
  /** no-map regions (by name) the page allocator must not touch. */
  readonly noMap: readonly string[];
  /** Nodes with a device model (paths). */
  readonly models: readonly string[];
  /** Devices that must exist (platform device names). */
  readonly devices: readonly string[];
  /** Devices a driver of the default image must bind, with that driver (others may bind too). */
  readonly bound: Readonly<Record<string, string>>;
  /** Log lines that must appear. */
  readonly log?: readonly RegExp[];
  /** Devices a driver matched but declined, as Linux declines them (unbound, no driver). */
  readonly refused?: Readonly<Record<string, string>>;
  /** Devices that must not exist (interrupt controllers set up without a device). */
  readonly absent?: readonly string[];
  /** Masters that must have an IOMMU group (all masters of bound SMMUs must; these are named). */
  readonly groups?: readonly string[];
  /**
   * A GPU the image's driver must run work on: its platform device, and the model (node path)
   * that translates its DMA (the SMMU in front of it, or the GPU itself for a Mali's own MMU).
   */
  readonly gpu?: { readonly device: string; readonly translatedBy: string };
  /**
   * Nodes the board enables on top of the kernel's tree (`&label` or `&{/path}`), as a board
   * file would with `status = "okay"`: every MSM8998 and SDM630 board of Linux v6.12 leaves the
   * Adreno (and on SDM630 its SMMU) disabled, so the test boots the tree with them enabled.
   */
  readonly enable?: readonly string[];
}

/** Translations a model (an SMMU, or a Mali's MMU) has performed so far; NaN if it counts none. */
function translations(model: unknown): number {
  const s = (model as { stats?: { translations?: number; mmu?: { translations?: number } } } | undefined)?.stats;
  return s?.translations ?? s?.mmu?.translations ?? Number.NaN;
}

const CASES: readonly Expect[] = [
  {
    file: 'qcom/sdm845-mtp.dts',
    name: 'Qualcomm Technologies, Inc. SDM845 MTP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@85700000', '/reserved-memory/memory@8c415000', '/reserved-memory/smem@86000000', '/reserved-memory/memory@97b00000'],
    models: ['/soc@0/gpu@5000000', '/soc@0/gmu@506a000', '/soc@0/iommu@5040000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['5000000.gpu', '5040000.iommu', '506a000.gmu', '15000000.iommu', '8804000.sdhci', 'ae00000.mdss', 'b220000.interrupt-controller', '86000000.smem', 'firmware:scm', 'remoteproc-adsp'],
    // msm is in the default image too: its adreno driver binds the GPU behind the Adreno SMMU
    bound: { 'soc@0': 'simple-pm-bus', '146bf000.imem': 'simple-pm-bus', '15000000.iommu': 'arm-smmu', '5040000.iommu': 'arm-smmu', '5000000.gpu': 'adreno', 'firmware:scm': 'qcom_scm' },
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /remoteproc-adsp: interrupt\(s\) left unresolved: 1 -> \/smp2p-lpass\/slave-kernel/],
    gpu: { device: '5000000.gpu', translatedBy: '/soc@0/iommu@5040000' },
  },
  {
    file: 'rockchip/rk3399-evb.dts',
    name: 'Rockchip RK3399 Evaluation Board',
    ram: [{ base: 0x20_0000, size: 0x7fe0_0000 }],
    noMap: [],
    models: ['/gpu@ff9a0000'],
    devices: ['ff9a0000.gpu', 'ff900000.vop', 'ff903f00.iommu', 'ff660000.video-codec', 'ff660480.iommu', 'ff770000.syscon:phy@f780', 'keys', 'pmu_a53'],
    bound: { 'ff770000.syscon': 'simple-pm-bus', 'ff320000.syscon': 'simple-pm-bus', 'ff9a0000.gpu': 'panfrost' },
    gpu: { device: 'ff9a0000.gpu', translatedBy: '/gpu@ff9a0000' },
  },
  {
    file: 'amlogic/meson-g12a-sei510.dts',
    name: 'SEI Robotics SEI510',
    ram: [{ base: 0, size: GiB }],
    noMap: ['/reserved-memory/secmon@5000000', '/reserved-memory/secmon@5300000'],
    models: ['/soc/gpu@ffe40000'],
    devices: ['ffe40000.gpu', 'ff600000.hdmi-tx', 'ff630218.rng', 'ffd24000.serial', 'ffe07000.mmc'],
    bound: {
      soc: 'simple-pm-bus',
      'ff600000.bus': 'simple-pm-bus',
      'ff630000.bus': 'simple-pm-bus',
      'ff634400.bus': 'simple-pm-bus',
      'ffd00000.bus': 'simple-pm-bus',
      'ffe40000.gpu': 'panfrost',
    },
    log: [/reserved mem: \/reserved-memory\/linux,cma: placed 256 MiB at 0x30000000 \(reusable\)/],
    gpu: { device: 'ffe40000.gpu', translatedBy: '/soc/gpu@ffe40000' },
  },
  {
    file: 'arm/fvp-base-revc.dts',
    name: 'FVP Base RevC',
    ram: [
      { base: 0x8000_0000, size: 2 * GiB },
      { base: 0x8_8000_0000, size: 2 * GiB },
    ],
    noMap: [],
    // the ECAM host bridge model, with its default test endpoint at 00:01.0 (the tree lists none)
    models: ['/iommu@2b400000', '/pci@40000000'],
    devices: ['2b400000.iommu', '40000000.pci', '1c090000.serial', '1c1f0000.clcd', '0000:00:01.0'],
    bound: {
      '2b400000.iommu': 'arm-smmu-v3',
      '40000000.pci': 'pci-host-generic',
      'bus@8000000': 'simple-pm-bus',
      'bus@8000000:motherboard-bus': 'simple-pm-bus',
      'bus@8000000:motherboard-bus:iofpga-bus@300000000': 'simple-pm-bus',
    },
  },
  {
    file: 'arm/juno.dts',
    name: 'ARM Juno development board (r0)',
    ram: [
      { base: 0x8000_0000, size: 0x7f00_0000 },
      { base: 0x8_8000_0000, size: 6 * GiB },
    ],
    noMap: [],
    models: ['/iommu@2b600000', '/iommu@7fb00000', '/iommu@7fb10000', '/iommu@7fb20000', '/iommu@7fb30000'],
    devices: ['7fb00000.iommu', '7ff00000.dma', '7ff50000.hdlcd', '18000000.ethernet', '1c060000.kmi'],
    bound: {
      '2b600000.iommu': 'arm-smmu',
      '7fb00000.iommu': 'arm-smmu',
      '7fb10000.iommu': 'arm-smmu',
      '7fb20000.iommu': 'arm-smmu',
      '7fb30000.iommu': 'arm-smmu',
      'bus@8000000': 'simple-pm-bus',
      'bus@8000000:motherboard-bus@8000000': 'simple-pm-bus',
      'bus@8000000:motherboard-bus@8000000:iofpga-bus@300000000': 'simple-pm-bus',
    },
  },
  {
    file: 'qcom/sc7180-idp.dts',
    name: 'Qualcomm Technologies, Inc. SC7180 IDP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@80900000', '/reserved-memory/memory@86000000', '/reserved-memory/memory@8b700000', '/reserved-memory/mpss-metadata'],
    models: ['/soc@0/gpu@5000000', '/soc@0/gmu@506a000', '/soc@0/iommu@5040000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['5000000.gpu', '506a000.gmu', '7c4000.mmc', 'ae00000.display-subsystem', 'b220000.interrupt-controller', '18800000.wifi'],
    // Adreno 618 (a630 family: legacy GMU) behind qcom,sc7180-smmu-v2; MMU-500 apps SMMU
    bound: { '5000000.gpu': 'adreno', '5040000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['5000000.gpu', '506a000.gmu', '7c4000.mmc', '8804000.mmc', 'aa00000.video-codec', 'ae00000.display-subsystem', '18800000.wifi'],
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /Initialized msm .* for 5000000.gpu/],
    gpu: { device: '5000000.gpu', translatedBy: '/soc@0/iommu@5040000' },
  },
  {
    file: 'qcom/sm8250-mtp.dts',
    name: 'Qualcomm Technologies, Inc. SM8250 MTP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@80000000', '/reserved-memory/memory@86200000', '/reserved-memory/memory@8bf00000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', '408000.mailbox', '1d84000.ufshc'],
    // Adreno 650: the non-legacy GMU (new out-of-band bits, no boot request); MMU-500 Adreno SMMU
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufshc', '1dc4000.dma-controller'],
    // the IPCC mailbox is an interrupt controller nothing here decodes (its macros read 0)
    log: [/Initialized msm .* for 3d00000.gpu/, /\/smp2p-adsp: interrupt\(s\) left unresolved: 0 -> \/soc@0\/mailbox@408000 \(no interrupt domain\)/],
    gpu: { device: '3d00000.gpu', translatedBy: '/soc@0/iommu@3da0000' },
  },
  {
    file: 'qcom/sm8150-mtp.dts',
    name: 'Qualcomm Technologies, Inc. SM8150 MTP',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@85700000', '/reserved-memory/memory@8d800000', '/reserved-memory/memory@98715000', '/reserved-memory/memory@9e400000'],
    models: ['/soc@0/gpu@2c00000', '/soc@0/gmu@2c6a000', '/soc@0/iommu@2ca0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['2c00000.gpu', '2c6a000.gmu', '1d84000.ufshc', '18800000.wifi'],
    // Adreno 640 (a6xx gen2): the first non-legacy GMU (qcom,adreno-gmu-640.1), behind an
    // MMU-500 Adreno SMMU (qcom,sm8150-smmu-500)
    bound: { '2c00000.gpu': 'adreno', '2ca0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu', 'soc@0': 'simple-pm-bus' },
    groups: ['2c00000.gpu', '2c6a000.gmu', '1d84000.ufshc', '1dc4000.dma-controller', '18800000.wifi'],
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /Initialized msm .* for 2c00000.gpu/],
    gpu: { device: '2c00000.gpu', translatedBy: '/soc@0/iommu@2ca0000' },
  },
  {
    file: 'qcom/sc8280xp-crd.dts',
    name: 'Qualcomm SC8280XP CRD',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/reserved-region@80000000', '/reserved-memory/smem-region@80900000', '/reserved-memory/gpu-mem@8bf00000', '/reserved-memory/reserved-region@aeb00000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufs', '8804000.mmc', 'ae00000.display-subsystem'],
    // Adreno 690 (chip id 6.9.0.0, an a660-family part: non-legacy GMU) behind an MMU-500
    // Adreno SMMU (qcom,sc8280xp-smmu-500)
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu', 'soc@0': 'simple-pm-bus' },
    groups: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufs', '8804000.mmc', 'ae00000.display-subsystem'],
    log: [
      /memory@80000000: reg gives size 0 .*using 4 GiB/,
      /Initialized msm .* for 3d00000.gpu/,
      /reserved mem: \/reserved-memory\/linux,cma: placed 128 MiB at 0x178000000 \(reusable\)/,
    ],
    gpu: { device: '3d00000.gpu', translatedBy: '/soc@0/iommu@3da0000' },
  },
  {
    file: 'qcom/sc7280-idp.dts',
    name: 'Qualcomm Technologies, Inc. sc7280 IDP SKU1 platform',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/smem@80900000', '/reserved-memory/mpss@8b800000', '/reserved-memory/wpss@9ae00000', '/reserved-memory/mpss-metadata'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', '7c4000.mmc', '17a10040.wifi', 'aa00000.video-codec'],
    // Adreno 635 (6.3.5.0, listed by chip id): an a660-family part, non-legacy GMU with its
    // own "rscc" window; MMU-500 Adreno SMMU with 2-cell iommus (two GPU streams)
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['3d00000.gpu', '3d6a000.gmu', '7c4000.mmc', '17a10040.wifi'],
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /Initialized msm .* for 3d00000.gpu/],
    gpu: { device: '3d00000.gpu', translatedBy: '/soc@0/iommu@3da0000' },
  },
  {
    file: 'qcom/sm8550-mtp.dts',
    name: 'Qualcomm Technologies, Inc. SM8550 MTP',
    // RAM starts at 2.5 GiB here; the reserved regions below it lie outside what the tree gives
    ram: [{ base: 0xa000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/rmtfs-region@d4a80000', '/reserved-memory/tz-reserved-region@d8000000', '/reserved-memory/qtee-region@d8300000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufs'],
    // Adreno 740 (chip id 0x43050a01, an a7xx gen2 part): BR/BV command processor, its GMU
    // takes the chip id in GENERAL_10; MMU-500 Adreno SMMU ("qcom,sm8550-smmu-500")
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    // v6.12 names the UFS host node ufs@1d84000 (later kernels: ufshc@1d84000)
    groups: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufs'],
    log: [/memory@a0000000: reg gives size 0 .*using 4 GiB/, /Initialized msm .* for 3d00000.gpu/],
  },
  {
    file: 'qcom/sm8450-hdk.dts',
    name: 'Qualcomm Technologies, Inc. SM8450 HDK',
    // RAM starts at 2.5 GiB (size left to the bootloader); the firmware regions below it are
    // outside what the tree gives, the ones above it are kept from the page allocator
    ram: [{ base: 0xa000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@a6e00000', '/reserved-memory/memory@c0000000', '/reserved-memory/memory@e8900000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufshc', '8804000.mmc', 'ae00000.display-subsystem'],
    // Adreno 730 ("qcom,adreno-730.1", an a7xx gen1 part: BR/BV command processor) and its GMU
    // ("qcom,adreno-gmu-730.1", cx_mem inside the GMU's registers) behind an MMU-500 Adreno
    // SMMU ("qcom,sm8450-smmu-500", stream mask 0x400); MMU-500 apps SMMU
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufshc', '8804000.mmc', 'ae00000.display-subsystem'],
    log: [
      /memory@a0000000: reg gives size 0 .*using 4 GiB/,
      /Initialized msm .* for 3d00000.gpu/,
      /memory@80000000: 0x80000000\+0x600000 is outside RAM/,
      // the IPCC mailbox is an interrupt controller nothing here decodes
      /\/smp2p-adsp: interrupt\(s\) left unresolved: 0 -> \/soc@0\/mailbox@ed18000 \(no interrupt domain\)/,
    ],
    gpu: { device: '3d00000.gpu', translatedBy: '/soc@0/iommu@3da0000' },
  },
  {
    file: 'qcom/sm8650-hdk.dts',
    name: 'Qualcomm Technologies, Inc. SM8650 HDK',
    // RAM at 2.5 GiB (size left to the bootloader); hypervisor and firmware regions below it
    ram: [{ base: 0xa000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/rmtfs@d7c00000', '/reserved-memory/tz-merged@d8000000', '/reserved-memory/oem-vm@f7c00000', '/reserved-memory/llcc-lpi@ff800000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufs', '8804000.mmc', 'ae00000.display-subsystem'],
    // Adreno 750 ("qcom,adreno-43051401": chip id 0x43051401, an a7xx gen3 part) and its GMU
    // ("qcom,adreno-gmu-750.1", an 8 KiB cx_mem inside the GMU's registers) behind an MMU-500
    // Adreno SMMU ("qcom,sm8650-smmu-500"); MMU-500 apps SMMU
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['3d00000.gpu', '3d6a000.gmu', '1d84000.ufs', '8804000.mmc', 'ae00000.display-subsystem'],
    log: [
      /memory@a0000000: reg gives size 0 .*using 4 GiB/,
      /Initialized msm .* for 3d00000.gpu/,
      /\/reserved-memory\/hyp@80000000: 0x80000000\+0xe00000 is outside RAM/,
      // the IPCC mailbox is an interrupt controller nothing here decodes
      /\/smp2p-adsp: interrupt\(s\) left unresolved: 0 -> \/soc@0\/mailbox@406000 \(no interrupt domain\)/,
    ],
    gpu: { device: '3d00000.gpu', translatedBy: '/soc@0/iommu@3da0000' },
  },
  {
    file: 'qcom/x1e80100-crd.dts',
    name: 'Qualcomm Technologies, Inc. X1E80100 CRD',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/gunyah-hyp@80000000', '/reserved-memory/gpu-prr@81f00000', '/reserved-memory/pld-gmu@81f36000', '/reserved-memory/gpu-microcode@8d9fe000'],
    models: ['/soc@0/gpu@3d00000', '/soc@0/gmu@3d6a000', '/soc@0/iommu@3da0000', '/soc@0/iommu@15000000', '/firmware/scm'],
    devices: ['3d00000.gpu', '3d6a000.gmu', 'ae00000.display-subsystem', '1c08000.pci'],
    // Adreno X1-85 ("qcom,adreno-43050c01", in Linux v6.12's catalog: an a740-family gen7 part,
    // 256 GiB per process) with its GMU named "qcom,adreno-gmu-x185.1" (firmware id 7.5.0.1),
    // behind an MMU-500 Adreno SMMU ("qcom,x1e80100-smmu-500"); MMU-500 apps SMMU
    bound: { '3d00000.gpu': 'adreno', '3da0000.iommu': 'arm-smmu', '15000000.iommu': 'arm-smmu' },
    groups: ['3d00000.gpu', '3d6a000.gmu', 'ae00000.display-subsystem'],
    log: [
      /memory@80000000: reg gives size 0 .*using 4 GiB/,
      /Initialized msm .* for 3d00000.gpu/,
      /reserved mem: \/reserved-memory\/linux,cma: placed 128 MiB at 0x178000000 \(reusable\)/,
      // the IPCC mailbox is an interrupt controller nothing here decodes
      /\/smp2p-adsp: interrupt\(s\) left unresolved: 0 -> \/soc@0\/mailbox@408000 \(no interrupt domain\)/,
    ],
    gpu: { device: '3d00000.gpu', translatedBy: '/soc@0/iommu@3da0000' },
  },
  {
    file: 'qcom/apq8016-sbc.dts',
    name: 'Qualcomm Technologies, Inc. APQ 8016 SBC',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: [],
    // MSM8916's secure IOMMUs: the global space is the TrustZone's (qcom,scm), the context
    // banks are the children of each IOMMU node
    models: ['/firmware/scm', '/soc@0/iommu@1ef0000', '/soc@0/iommu@1f08000', '/soc@0/gpu@1c00000'],
    devices: ['1c00000.gpu', '1d00000.video-codec', '1b0ac00.camss', '1ef0000.iommu', 'soc@0:iommu@1f08000', 'firmware:scm'],
    bound: {
      // the Adreno 306 (a3xx), on msm's own domain over gpu_iommu's banks 1 and 2
      '1c00000.gpu': 'adreno',
      'firmware:scm': 'qcom_scm',
      '1ef0000.iommu': 'qcom-iommu',
      'soc@0:iommu@1f08000': 'qcom-iommu',
      '1e23000.iommu-ctx': 'qcom-iommu-ctx',
      '1e24000.iommu-ctx': 'qcom-iommu-ctx',
      '1e25000.iommu-ctx': 'qcom-iommu-ctx',
      '1f09000.iommu-ctx': 'qcom-iommu-ctx',
      '1f0a000.iommu-ctx': 'qcom-iommu-ctx',
    },
    groups: ['1c00000.gpu', '1d00000.video-codec', '1b0ac00.camss'],
    log: [/\[drm\] Initialized msm 1\.12\.0 20130625 for 1c00000\.gpu on minor 0/, /qcom-iommu 1ef0000\.iommu: iommu sec: pgtable size: \d+/],
  },
  {
    file: 'qcom/apq8096-db820c.dts',
    name: 'Qualcomm Technologies, Inc. DB820c',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/gpu@90f00000', '/reserved-memory/smem-mem@86000000', '/reserved-memory/rmtfs'],
    models: ['/soc@0/gpu@b00000', '/soc@0/iommu@b40000', '/soc@0/iommu@d00000', '/soc@0/iommu@d40000', '/soc@0/iommu@da0000', '/soc@0/iommu@1600000', '/firmware/scm'],
    devices: ['b00000.gpu', 'c00000.video-codec'],
    // Adreno 530 (a5xx: no GMU, no per-process tables) behind qcom,msm8996-smmu-v2, which Linux
    // keeps out of split tables: the GPU's one domain is a TTBR0 space
    bound: { 'b00000.gpu': 'adreno', 'b40000.iommu': 'arm-smmu', 'd00000.iommu': 'arm-smmu', 'd40000.iommu': 'arm-smmu', 'da0000.iommu': 'arm-smmu', '1600000.iommu': 'arm-smmu' },
    groups: ['b00000.gpu', 'c00000.video-codec'],
    log: [/Initialized msm .* for b00000.gpu/],
    gpu: { device: 'b00000.gpu', translatedBy: '/soc@0/iommu@b40000' },
  },
  {
    file: 'qcom/msm8998-mtp.dts',
    name: 'Qualcomm Technologies, Inc. MSM8998 v1 MTP',
    enable: ['&{/soc@0/gpu@5000000}'],
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@85800000', '/reserved-memory/smem-mem@86000000', '/reserved-memory/mpss-metadata'],
    models: ['/soc@0/iommu@1680000', '/soc@0/iommu@16c0000', '/soc@0/gpu@5000000', '/soc@0/iommu@5040000', '/soc@0/iommu@cd00000', '/firmware/scm'],
    devices: ['5000000.gpu', '18800000.wifi'],
    // Adreno 540 behind qcom,msm8998-smmu-v2, which this tree does not mark qcom,adreno-smmu:
    // Linux's plain Qualcomm SMMU-v2 implementation, no split tables, no Adreno interface
    bound: { '5000000.gpu': 'adreno', '1680000.iommu': 'arm-smmu', '16c0000.iommu': 'arm-smmu', '5040000.iommu': 'arm-smmu', 'cd00000.iommu': 'arm-smmu' },
    groups: ['5000000.gpu', '18800000.wifi'],
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /Initialized msm .* for 5000000.gpu/],
    gpu: { device: '5000000.gpu', translatedBy: '/soc@0/iommu@5040000' },
  },
  {
    file: 'qcom/sdm630-sony-xperia-nile-pioneer.dts',
    name: 'Sony Xperia XA2',
    enable: ['&adreno_gpu', '&kgsl_smmu'],
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/gpu@fed00000', '/reserved-memory/smem-mem@86000000', '/reserved-memory/splash@9d400000'],
    models: ['/soc@0/gpu@5000000', '/soc@0/iommu@5040000', '/firmware/scm'],
    devices: ['5000000.gpu', '5040000.iommu'],
    // Adreno 508 behind qcom,sdm630-smmu-v2 + qcom,adreno-smmu: split tables, the GPU's one
    // domain in the TTBR1 half
    bound: { '5000000.gpu': 'adreno', '5040000.iommu': 'arm-smmu', 'soc@0': 'simple-pm-bus' },
    groups: ['5000000.gpu'],
    log: [/memory@80000000: reg gives size 0 .*using 4 GiB/, /Initialized msm .* for 5000000.gpu/],
    gpu: { device: '5000000.gpu', translatedBy: '/soc@0/iommu@5040000' },
  },
  {
    file: 'qcom/qrb4210-rb2.dts',
    name: 'Qualcomm Technologies, Inc. QRB4210 RB2',
    // the dtsi's memory node at 0x80000000 has its size left to the bootloader; the firmware
    // carve-outs below it are outside that RAM (logged), rmtfs is inside
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/memory@89b01000'],
    models: ['/soc@0/gpu@5900000', '/soc@0/gmu@596a000', '/soc@0/iommu@59a0000', '/soc@0/iommu@c600000', '/firmware/scm'],
    devices: ['5900000.gpu', '596a000.gmu', '4744000.mmc', '5e00000.display-subsystem', 'c800000.wifi'],
    // Adreno 610 (SM6115 family) with no real GMU: the qcom,adreno-gmu-wrapper node holds only
    // the GX register window; MMU-500 Adreno SMMU (qcom,sm6115-smmu-500) and apps SMMU
    bound: { '5900000.gpu': 'adreno', '59a0000.iommu': 'arm-smmu', 'c600000.iommu': 'arm-smmu', 'soc@0': 'simple-pm-bus' },
    groups: ['5900000.gpu', '4744000.mmc', '4784000.mmc', '5e00000.display-subsystem', 'c800000.wifi'],
    log: [
      /memory@80000000: reg gives size 0 .*using 4 GiB/,
      /Initialized msm .* for 5900000.gpu/,
      /memory@4ab00000: 0x4ab00000\+0x6900000 is outside RAM/,
    ],
    gpu: { device: '5900000.gpu', translatedBy: '/soc@0/iommu@59a0000' },
  },
  {
    file: 'qcom/qrb2210-rb1.dts',
    name: 'Qualcomm Technologies, Inc. Robotics RB1',
    ram: [{ base: 0x4000_0000, size: 4 * GiB }],
    noMap: ['/reserved-memory/hyp@45700000', '/reserved-memory/modem@4ab00000', '/reserved-memory/zap@53615000', '/reserved-memory/reserved@60000000'],
    models: ['/soc@0/gpu@5900000', '/soc@0/gmu@596a000', '/soc@0/iommu@59a0000', '/soc@0/iommu@c600000', '/firmware/scm'],
    devices: ['5900000.gpu', '596a000.gmu', '4744000.mmc', '5e00000.display-subsystem', 'c800000.wifi', '4ef8800.usb', 'remoteproc'],
    // Adreno 702 (chip id 0x07000200, listed by its hex compatible: an a6xx-gen1 part despite
    // the number) behind a GMU wrapper; qcom,qcm2290-smmu-500 Adreno SMMU and apps SMMU
    bound: { '5900000.gpu': 'adreno', '59a0000.iommu': 'arm-smmu', 'c600000.iommu': 'arm-smmu', 'soc@0': 'simple-pm-bus' },
    groups: ['5900000.gpu', '4744000.mmc', '4784000.mmc', '5e00000.display-subsystem', 'c800000.wifi'],
    log: [
      /memory@40000000: reg gives size 0 .*using 4 GiB/,
      /Initialized msm .* for 5900000.gpu/,
      // the MPM (under the RPM processor node) hands its mapped pins on to the GIC
      /interrupt controller \/remoteproc\/interrupt-controller -> \/soc@0\/interrupt-controller@f200000 \(stacked\)/,
    ],
    gpu: { device: '5900000.gpu', translatedBy: '/soc@0/iommu@59a0000' },
  },
  {
    file: 'rockchip/rk3568-evb1-v10.dts',
    name: 'Rockchip RK3568 EVB1 DDR4 V10 Board',
    // no /memory node: RAM from 0 up to the first device window
    ram: [{ base: 0, size: 0xf000_0000 }],
    noMap: [],
    models: ['/gpu@fde60000'],
    devices: ['fde60000.gpu', 'fe040000.vop', 'fe043e00.iommu', 'firmware:scmi', '10f000.sram'],
    bound: { 'fde60000.gpu': 'panfrost', 'fdd90000.power-management': 'simple-pm-bus' },
    log: [/no \/memory node \(the bootloader adds it\): assuming 3840 MiB of RAM at 0x0/],
    gpu: { device: 'fde60000.gpu', translatedBy: '/gpu@fde60000' },
  },
  {
    file: 'rockchip/rk3588-evb1-v10.dts',
    name: 'Rockchip RK3588 EVB1 V10 Board',
    // no /memory node: RAM from 0 up to the first device window
    ram: [{ base: 0, size: 0xf000_0000 }],
    noMap: [],
    // the Mali-G610 is a CSF part (arm,mali-valhall-csf: panthor, not modelled); the two
    // MMU-600s (arm,smmu-v3) are disabled in the SoC file and no board file enables them
    models: [],
    devices: ['fb000000.gpu', 'fdb50800.iommu', 'a40000000.pcie', 'a40c00000.pcie'],
    absent: ['fc900000.iommu', 'fcb00000.iommu'],
    bound: { 'fd8d8000.power-management': 'simple-pm-bus' },
    log: [/no \/memory node \(the bootloader adds it\): assuming 3840 MiB of RAM at 0x0/],
  },
  {
    file: 'rockchip/rk3328-evb.dts',
    name: 'Rockchip RK3328 EVB',
    ram: [{ base: 0, size: 0xff00_0000 }],
    noMap: [],
    // Mali-450 (Utgard): neither a model nor a driver here
    models: [],
    devices: ['ff300000.gpu', 'ff350800.iommu', 'ff360480.iommu'],
    bound: { 'ff100000.syscon': 'simple-pm-bus' },
  },
  {
    file: 'rockchip/rk3288-evb-rk808.dts',
    name: 'Rockchip RK3288 EVB RK808',
    ram: [{ base: 0, size: 2 * GiB }],
    noMap: [],
    // a 32-bit SoC (arch/arm) with a Mali-T760
    models: ['/gpu@ffa30000'],
    devices: ['ffa30000.gpu', 'ff930300.iommu', 'ff180000.serial'],
    bound: { 'ffa30000.gpu': 'panfrost', 'ff770000.syscon': 'simple-pm-bus' },
    gpu: { device: 'ffa30000.gpu', translatedBy: '/gpu@ffa30000' },
  },
  {
    file: 'mediatek/mt8183-evb.dts',
    name: 'MediaTek MT8183 evaluation board',
    ram: [{ base: 0x4000_0000, size: 2 * GiB }],
    noMap: ['/reserved-memory/memory@50000000'],
    models: ['/soc/gpu@13040000'],
    // interrupts reach the GIC through SYSIRQ, which gets no device of its own
    devices: ['13040000.gpu', '10205000.iommu'],
    absent: ['c530a80.interrupt-controller'],
    bound: { '13040000.gpu': 'panfrost' },
    gpu: { device: '13040000.gpu', translatedBy: '/soc/gpu@13040000' },
  },
  {
    file: 'mediatek/mt8192-evb.dts',
    name: 'MediaTek MT8192 evaluation board',
    ram: [{ base: GiB, size: 2 * GiB }],
    noMap: [],
    // the EVB leaves the SoC file's GPU disabled: no Mali model, no device
    models: [],
    devices: ['11002000.serial', '1401d000.m4u', '14005000.ovl'],
    absent: ['13000000.gpu'],
    bound: { soc: 'simple-pm-bus' },
  },
  {
    file: 'mediatek/mt8192-asurada-spherion-r0.dts',
    name: 'Google Spherion (rev0 - 3)',
    ram: [{ base: GiB, size: 2 * GiB }],
    noMap: ['/reserved-memory/scp@50000000'],
    models: ['/soc/gpu@13000000'],
    // the display and codec masters name the M4U (no driver here): no IOMMU group for them
    devices: ['13000000.gpu', '1401d000.m4u', '14005000.ovl', '16000000.video-codec'],
    // Mali-G57 MC5 (Valhall JM, product id 0x9093): panfrost names it a g57 and binds it
    bound: { '13000000.gpu': 'panfrost', soc: 'simple-pm-bus' },
    log: [
      /panfrost 13000000.gpu: mali-g57 id 0x9093 major 0x0 minor 0x0 status 0x0/,
      /panfrost 13000000.gpu: shader_present=0x50045 l2_present=0x1/,
      /wifi@c0000000: 0xc0000000\+0x4000000 is outside RAM/,
    ],
    gpu: { device: '13000000.gpu', translatedBy: '/soc/gpu@13000000' },
  },
  {
    file: 'allwinner/sun50i-h6-pine-h64.dts',
    name: 'Pine64 PINE H64 Model A',
    // no /memory node: devices fill the first GiB, RAM goes at 1 GiB
    ram: [{ base: GiB, size: 4 * GiB }],
    noMap: [],
    models: ['/soc/gpu@1800000'],
    devices: ['1800000.gpu', '1c0e000.video-codec', '3002000.dma-controller'],
    bound: { '1800000.gpu': 'panfrost', soc: 'simple-pm-bus' },
    log: [/no \/memory node \(the bootloader adds it\): assuming 4 GiB of RAM at 0x40000000/],
    gpu: { device: '1800000.gpu', translatedBy: '/soc/gpu@1800000' },
  },
  {
    file: 'amlogic/meson-gxm-khadas-vim2.dts',
    name: 'Khadas VIM2',
    ram: [{ base: 0, size: 2 * GiB }],
    noMap: ['/reserved-memory/hwrom@0', '/reserved-memory/secmon@10000000'],
    // Mali-T820 (amlogic,meson-gxm-mali) two buses down
    models: ['/soc/apb@d0000000/gpu@c0000'],
    devices: ['d00c0000.gpu', 'c11084c0.serial'],
    bound: { 'd00c0000.gpu': 'panfrost', 'd0000000.apb': 'simple-pm-bus', 'c8834000.bus': 'simple-pm-bus' },
    gpu: { device: 'd00c0000.gpu', translatedBy: '/soc/apb@d0000000/gpu@c0000' },
  },
  {
    file: 'freescale/fsl-ls1028a-rdb.dts',
    name: 'LS1028A RDB Board',
    ram: [{ base: 0x8000_0000, size: 4 * GiB }],
    noMap: [],
    // MMU-500 with #iommu-cells = <1>, stream-match-mask 0x7c00 and an 8 MiB window (64 KiB pages)
    // and the ENETC integrated-endpoint ECAM bus, with the functions the tree lists
    models: ['/soc/iommu@5000000', '/soc/pcie@1f0000000'],
    devices: ['5000000.iommu', '1f0000000.pcie', '0000:00:00.0', '0000:00:00.2', '0000:00:1f.0'],
    bound: { '5000000.iommu': 'arm-smmu', soc: 'simple-pm-bus', '1f0000000.pcie': 'pci-host-generic' },
  },
  {
    file: 'freescale/imx8mp-evk.dts',
    name: 'NXP i.MX8MPlus EVK board',
    ram: [
      { base: GiB, size: 3 * GiB },
      { base: 4 * GiB, size: 3 * GiB },
    ],
    noMap: ['/reserved-memory/vdev0buffer@94300000'],
    // the Vivante GPUs (etnaviv) have no model or driver here
    models: [],
    devices: ['38000000.gpu', '38008000.gpu', '303a0000.gpc'],
    bound: { 'soc@0': 'simple-pm-bus', '30800000.bus': 'simple-pm-bus' },
  },
  {
    file: 'nvidia/tegra194-p2972-0000.dts',
    name: 'NVIDIA Jetson AGX Xavier Developer Kit',
    ram: [{ base: 2 * GiB, size: 4 * GiB }],
    noMap: [],
    models: ['/bus@0/iommu@12000000'],
    devices: ['12000000.iommu', '17000000.gpu', '2490000.ethernet'],
    // two MMU-500 instances programmed in lockstep; masters' stream IDs from TEGRA194_SID_*
    bound: { 'bus@0': 'simple-pm-bus', '12000000.iommu': 'arm-smmu' },
    groups: ['2490000.ethernet', '2600000.dma-controller', '3400000.mmc', '3460000.mmc', '13e00000.host1x'],
    log: [/NVIDIA Tegra SMMU: 2 instance\(s\) programmed in lockstep/, /no \/memory node \(the bootloader adds it\): assuming 4 GiB of RAM at 0x80000000/],
  },
  {
    file: 'arm/foundation-v8.dts',
    name: 'Foundation-v8A',
    ram: [
      { base: 2 * GiB, size: 2 * GiB },
      { base: 0x8_8000_0000, size: 2 * GiB },
    ],
    noMap: [],
    models: [],
    devices: ['1c090000.serial', '1a000000.ethernet'],
    bound: { 'bus@8000000': 'simple-pm-bus', 'bus@8000000:iofpga-bus@300000000': 'simple-pm-bus' },
  },
  {
    file: 'hisilicon/hi3660-hikey960.dts',
    name: 'HiKey960',
    ram: [{ base: 0, size: 4 * GiB }],
    noMap: [],
    models: [],
    devices: ['32000000.ramoops', 'fff35000.crg_ctrl'],
    bound: { soc: 'simple-pm-bus' },
    log: [/memory@0: reg gives size 0 at 0x0/],
  },
];

/** Everything the page allocator will hand out, as (pa, bytes) blocks: largest blocks first. */
function drain(k: Kernel): { pa: number; size: number }[] {
  const out: { pa: number; size: number }[] = [];
  for (let order = 10; order >= 0; order--)
    for (;;) {
      const pa = k.pages.allocPages(order);
      if (pa < 0) break;
      out.push({ pa, size: 4096 << order });
    }
  return out;
}

/** dtc on PATH (the hw package's dtc comparison installs it where it can), or undefined. */
const DTC = ((): string | undefined => {
  const r = spawnSync('sh', ['-c', 'command -v dtc'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
})();
const work = mkdtempSync(join(tmpdir(), 'gki-real-boards-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The blob dtc makes of a board: this package's preprocessor (the kernel's cpp step) with the
 * macros of missing headers defined as the compiler read them, then dtc.
 */
function dtcBlob(dtc: string, file: string, r: DtsCompileResult): Uint8Array {
  const defs = new Map(r.undefinedMacros.map((m) => [m.name, `#define ${m.name}${m.call ? '(...)' : ''} ${m.string ? '""' : '0'}`]));
  const prelude = join(work, 'prelude.h');
  writeFileSync(prelude, [...defs.values(), ''].join('\n'));
  const wrapper = join(work, 'wrapper.dts');
  writeFileSync(wrapper, `#include "${prelude}"\n#include "${file}"\n`);
  const pp = join(work, 'board.dts');
  writeFileSync(pp, preprocessDts(readFileSync(wrapper), { filename: wrapper }));
  const out = join(work, 'board.dtb');
  const run = spawnSync(dtc, ['-q', '-I', 'dts', '-O', 'dtb', '-o', out, pp], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`dtc failed on ${file}: ${run.stderr}`);
  return new Uint8Array(readFileSync(out));
}

/** A board file including the case's tree and enabling the nodes it lists. */
function enabledWrapper(c: Expect): string {
  const f = join(work, `${c.file.replace(/[/.]/g, '_')}-enabled.dts`);
  writeFileSync(f, [`#include "${join(boards, c.file)}"`, ...c.enable!.map((n) => `${n} { status = "okay"; };`), ''].join('\n'));
  return f;
}

describe('real kernel device trees boot on the default image', () => {
  for (const c of CASES)
    describe(c.file, () => {
      const src = c.enable ? enabledWrapper(c) : join(boards, c.file);
      const r = compileDtsFile(src);
      const board = Board.fromDtb(r.dtb);
      const k = Kernel.boot(board, defaultImage());

      it('is the described machine, with its models', () => {
        expect(board.name).toBe(c.name);
        expect(board.mem.regions).toEqual(c.ram);
        expect([...board.models.keys()].sort()).toEqual([...c.models].sort());
      });

      it('boots without a crash and logs what it could not wire', () => {
        expect(k.log.all().filter((l) => l.level === 'crit' || l.level === 'alert' || l.level === 'emerg')).toEqual([]);
        expect(k.log.grep(/crashed/)).toEqual([]);
        for (const re of c.log ?? []) expect(k.log.grep(re), String(re)).toHaveLength(1);
      });

      it('binds every device a driver of the image matches and leaves the others unbound', () => {
        const all = k.drivers.allDevices();
        const names = all.map((d) => d.name);
        for (const d of c.devices) expect(names, d).toContain(d);
        for (const d of c.absent ?? []) expect(names, d).not.toContain(d);
        const bound = Object.fromEntries(all.filter((d) => d.state === 'bound').map((d) => [d.name, d.driver!.name]));
        expect(bound).toMatchObject(c.bound);
        const refused = c.refused ?? {};
        for (const d of all) {
          // bound: by a driver of the image that matched it; nothing else may be half-way
          if (d.state === 'bound') continue;
          // refused: matched, and declined as Linux declines it (-ENODEV/-ENXIO), so unbound;
          // otherwise nothing matched it: no driver in this image for this hardware
          expect({ name: d.name, state: d.state, driver: d.driver, matched: d.p.canMatch }).toEqual({ name: d.name, state: 'unbound', driver: null, matched: d.name in refused });
        }
      });

      it('gives every master of a bound SMMU (or Qualcomm secure IOMMU) its IOMMU group', () => {
        const smmus = new Set(k.drivers.allDevices().filter((d) => d.state === 'bound' && /^(arm-smmu|qcom-iommu$)/.test(d.driver!.name)).map((d) => d.ofNode));
        const masters = k.drivers.allDevices().filter((d) => {
          const v = d.ofNode?.property('iommus');
          if (!v || v.length < 4) return false;
          const target = k.of.findNodeByPhandle(((v[0]! << 24) | (v[1]! << 16) | (v[2]! << 8) | v[3]!) >>> 0);
          return target !== undefined && smmus.has(target);
        });
        for (const m of masters) expect(k.iommu.groupOf(m), m.name).toBeDefined();
        for (const g of c.groups ?? []) expect(masters.map((m) => m.name), g).toContain(g);
      });

      if (c.gpu)
        it(`runs GPU work on ${c.gpu.device}, its DMA translated by ${c.gpu.translatedBy}`, () => {
          const target = gpuTargets(k).find((t) => t.device === c.gpu!.device);
          expect(target, 'a workload client for the GPU').toBeDefined();
          const ctx = target!.open();
          if (typeof ctx === 'number') throw new Error(`opening ${c.gpu!.device}: ${ctx}`);
          const mmu = board.models.get(c.gpu!.translatedBy);
          const before = translations(mmu);
          const faults = target!.faultCount();
          // fill, copy and checksum through the GPU; the bytes and the sum are checked on the CPU
          expect(ctx.copy(0x3000 - 24, 0x5eed)).toBe(0x3000 - 24);
          expect(translations(mmu) - before).toBeGreaterThan(0);
          expect(target!.faultCount()).toBe(faults);
          expect(ctx.close()).toBe(0);
        });

      it("boots the same from dtc's blob of the same source", (ctx) => {
        if (!DTC) ctx.skip('dtc is not installed (apt-get install device-tree-compiler)');
        const theirs = Board.fromDtb(dtcBlob(DTC!, src, r));
        const k2 = Kernel.boot(theirs, defaultImage());
        const boundOf = (kk: Kernel) => Object.fromEntries(kk.drivers.allDevices().filter((d) => d.state === 'bound').map((d) => [d.name, d.driver!.name]));
        expect([...theirs.models.keys()]).toEqual([...board.models.keys()]);
        expect(theirs.mem.regions).toEqual(board.mem.regions);
        expect(boundOf(k2)).toEqual(boundOf(k));
        expect(k2.drivers.allDevices().map((d) => d.name)).toEqual(k.drivers.allDevices().map((d) => d.name));
      });

      it('never hands out reserved memory, and hands out all the rest', () => {
        const blocks = drain(k);
        const usable = board.usableRam().reduce((n, m) => n + m.size, 0);
        // the allocator manages exactly the usable RAM, and the drain emptied it
        expect(k.pages.stats().totalPages * 4096).toBe(usable);
        expect(k.pages.stats().pagesInUse).toBe(k.pages.stats().totalPages);
        const kept = board.reservedMemory.filter((m) => !m.reusable);
        expect(kept.map((m) => m.name)).toEqual(expect.arrayContaining([...c.noMap]));
        for (const m of kept) {
          const hit = blocks.find((b) => b.pa < m.address + m.size && m.address < b.pa + b.size);
          expect(hit, `${m.name} handed out`).toBeUndefined();
        }
        for (const b of blocks) expect(board.mem.contains(b.pa, b.size)).toBe(true);
        for (const b of blocks) k.pages.freePages(b.pa, Math.log2(b.size / 4096));
      });

      // last: it takes the machine apart
      it('shuts down: every device unregistered, every module unloaded, every page given back', () => {
        const sd = shutdown(k);
        expect(sd.steps.filter((s) => s.err !== 0)).toEqual([]);
        expect(sd.pagesInUse).toBe(0);
        expect(k.drivers.allDevices().filter((d) => d.ofNode !== null)).toEqual([]);
        expect(sd.ok).toBe(true);
      });
    });

  it("rk3588-evb1-v10.dts with its MMU-600s enabled: the SMMUv3 driver probes them on the tree's own properties", () => {
    // what a board enabling them would write; the tree itself is the kernel's
    const wrapper = join(work, 'rk3588-mmu600.dts');
    writeFileSync(wrapper, `#include "${join(boards, 'rockchip/rk3588-evb1-v10.dts')}"\n&mmu600_pcie { status = "okay"; };\n&mmu600_php { status = "okay"; };\n`);
    const board = Board.fromDtb(compileDtsFile(wrapper).dtb);
    expect([...board.models.keys()].sort()).toEqual(['/iommu@fc900000', '/iommu@fcb00000']);
    const k = Kernel.boot(board, defaultImage());
    for (const name of ['fc900000.iommu', 'fcb00000.iommu']) {
      const d = k.drivers.findDevice(name);
      expect({ name, state: d?.state, driver: d?.driver?.name }).toEqual({ name, state: 'bound', driver: 'arm-smmu-v3' });
    }
    // the event queue and global error lines are found by interrupt-names among the four
    // edge-triggered 4-cell GIC specifiers (eventq, gerror, priq, cmdq-sync)
    expect(k.log.grep(/no evtq irq|no gerr irq/)).toEqual([]);
    expect(k.log.all().filter((l) => l.level === 'err' || l.level === 'crit')).toEqual([]);
    // the GPU stays an unmatched device, with nothing half-bound
    expect(k.drivers.findDevice('fb000000.gpu')).toMatchObject({ state: 'unbound', driver: null });
  });

  it('leaves the page allocator whole: what boot took plus what the test drained is all usable RAM', () => {
    const r = compileDtsFile(join(boards, 'amlogic/meson-g12a-sei510.dts'));
    const board = Board.fromDtb(r.dtb);
    const k = Kernel.boot(board, defaultImage());
    const before = k.pages.stats().pagesInUse;
    const drained = drain(k).reduce((n, b) => n + b.size, 0);
    expect(before * 4096 + drained).toBe(GiB - 35 * MiB);
  });
});
