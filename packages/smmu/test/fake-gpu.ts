import { IO_PGTABLE_QUIRK_ARM_TTBR1, allocIoPgtableOps, freeIoPgtableOps, type IoPgtableCfg, type IoPgtableOps } from '@gki/io-pgtable-core';
import {
  ENODEV,
  adrenoSmmuFaultInfoInit,
  adrenoSmmuPrivGet,
  adrenoSmmuPrivInit,
  adrenoSmmuPrivSet,
  iommuAttachDevice,
  iommuDetachDevice,
  iommuDomainAlloc,
  iommuDomainFree,
  iommuFlushIotlbAll,
  iommuSetFaultHandler,
  type AdrenoSmmuFaultInfo,
  type AdrenoSmmuPriv,
  type Device,
  type Driver,
  type IommuDomain,
  type Kernel,
  type KernelModule,
} from '@gki/kernel';

/*
 * A small GPU driver standing in for drm/msm's use of the Adreno SMMU interface, as msm does
 * it: at probe it registers an empty interface structure for its device, attaches its own
 * paging domain (the GPU's default domain is an identity one), checks that the SMMU driver
 * filled the interface (per-process page tables), and installs a fault handler that reads the
 * fault registers through get_fault_info. Processes get their own ARM_64_LPAE_S1 tables that
 * go into TTBR0; the kernel's buffers live in the TTBR1 half of the GPU's domain.
 */

export interface GpuFault {
  iova: number;
  flags: number;
  info: AdrenoSmmuFaultInfo;
}

export interface FakeGpu {
  dev: Device;
  domain: IommuDomain;
  priv: AdrenoSmmuPriv;
  faults: GpuFault[];
  /** What the fault handler returns (0: handled; -EAGAIN: retry the stalled transaction). */
  onFault: (iova: number, flags: number) => number;
}

/** A per-process page table, as msm_iommu_pagetable_create builds it from the TTBR1 config. */
export interface GpuProcess {
  ops: IoPgtableOps;
  cfg: IoPgtableCfg;
}

export function gpuModule(gpus: FakeGpu[]): KernelModule {
  const drv: Driver = {
    name: 'fake-adreno',
    ofMatchTable: [{ compatible: 'qcom,adreno' }],
    probe(dev) {
      const priv = adrenoSmmuPrivInit();
      adrenoSmmuPrivSet(dev, priv);
      const d = iommuDomainAlloc(dev, 'unmanaged');
      if (typeof d === 'number') return d;
      const r = iommuAttachDevice(d, dev);
      if (r < 0) {
        iommuDomainFree(d);
        return r;
      }
      if (adrenoSmmuPrivGet(dev) !== priv || !priv.setTtbr0Cfg) {
        dev.err('No per-process page tables');
        iommuDetachDevice(d, dev);
        iommuDomainFree(d);
        return -ENODEV;
      }
      const gpu: FakeGpu = { dev, domain: d, priv, faults: [], onFault: () => 0 };
      iommuSetFaultHandler(d, (_dom, _dev, iova, flags) => {
        const info = adrenoSmmuFaultInfoInit();
        priv.getFaultInfo!(priv.cookie, info);
        gpu.faults.push({ iova, flags, info });
        return gpu.onFault(iova, flags);
      });
      gpus.push(gpu);
      return 0;
    },
    remove(dev) {
      const i = gpus.findIndex((g) => g.dev === dev);
      if (i < 0) return;
      const g = gpus[i]!;
      gpus.splice(i, 1);
      iommuDetachDevice(g.domain, dev);
      iommuDomainFree(g.domain);
      adrenoSmmuPrivSet(dev, null);
    },
  };
  return {
    name: 'fake_adreno',
    version: '0.0.1',
    license: 'GPL v2',
    init: (ctx) => ctx.kernel.drivers.registerDriver(drv),
    exit: (ctx) => void ctx.kernel.drivers.unregisterDriver(drv),
  };
}

/**
 * A process address space: an ARM_64_LPAE_S1 table built from the GPU context's TTBR1
 * configuration without the TTBR1 quirk; its TLB maintenance flushes the whole GPU domain.
 */
export function newProcess(k: Kernel, gpu: FakeGpu): GpuProcess | number {
  const t1 = gpu.priv.getTtbr1Cfg!(gpu.priv.cookie);
  const cfg: IoPgtableCfg = {
    quirks: t1.quirks & ~IO_PGTABLE_QUIRK_ARM_TTBR1,
    pgsizeBitmap: t1.pgsizeBitmap,
    ias: t1.ias,
    oas: t1.oas,
    coherentWalk: t1.coherentWalk,
    tlb: {
      tlbFlushAll: () => iommuFlushIotlbAll(gpu.domain),
      tlbFlushWalk: () => iommuFlushIotlbAll(gpu.domain),
      tlbAddPage: () => undefined,
    },
  };
  const ops = allocIoPgtableOps(k, 'ARM_64_LPAE_S1', cfg, gpu);
  if (typeof ops === 'number') return ops;
  return { ops, cfg };
}

export function freeProcess(k: Kernel, p: GpuProcess): void {
  freeIoPgtableOps(k, p.ops);
}
