/**
 * iommu_map / iommu_unmap of 4 KiB pages through qcom_iommu: IOMMU core -> qcom_iommu domain
 * ops -> io-pgtable ARM_32_LPAE_S1 -> TLBIVAL writes and TLBSYNC polls taken by the Qualcomm
 * IOMMU model, on an MSM8916-shaped board (apps_iommu, one DMA master on context bank 4).
 * Each sample maps 1 MiB page by page, then unmaps it page by page, and checks the table.
 *
 *   pnpm --filter @gki/qcom-iommu bench      (BENCH_RUNS=n sets the samples, default 11)
 */
import { settleCompiler } from '@gki/testkit/settle';
import { Bench } from 'tinybench';
import ioPgtableArm from '@gki/format-arm-lpae';
import { Board, compileDts } from '@gki/hw';
import { ioPgtableCoreModule } from '@gki/io-pgtable-core';
import { IOMMU_READ, IOMMU_WRITE, Kernel, iommuAttachDevice, iommuDomainAlloc, iommuIovaToPhys, iommuMap, iommuUnmap, type Driver, type IommuDomain } from '@gki/kernel';
import qcomIommu from '../src/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
/**
 * tinybench's `setup` hook: before each task's warm-up and before its timed samples, wait for
 * V8's compiler threads to go idle (@gki/testkit/settle), so that a loop's request for optimized
 * code is not dropped by a full compile queue, which leaves the loop in its slower
 * on-stack-replacement code for the process (BENCHMARKS.md, "the OSR rows").
 */
const setup = (): void => settleCompiler();
const DTS = `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  interrupt-parent = <&intc>;
  intc: interrupt-controller@b000000 { compatible = "arm,gic-400"; interrupt-controller; #interrupt-cells = <3>; reg = <0x0b000000 0x1000>, <0x0b002000 0x1000>; };
  memory@80000000 { device_type = "memory"; reg = <0x80000000 0x10000000>; };
  firmware { scm { compatible = "qcom,scm-msm8916", "qcom,scm"; }; };
  soc { compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>; ranges;
    mdp: dma@1a01000 { compatible = "gki,dma-master"; reg = <0x01a01000 0x1000>; iommus = <&apps_iommu 4>; };
    apps_iommu: iommu@1ef0000 {
      compatible = "qcom,msm8916-iommu", "qcom,msm-iommu-v1";
      #address-cells = <1>; #size-cells = <1>; #iommu-cells = <1>;
      ranges = <0 0x01e20000 0x20000>; reg = <0x01ef0000 0x3000>;
      qcom,iommu-secure-id = <17>;
      iommu-ctx@4000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x4000 0x1000>; interrupts = <0 70 4>; };
    };
  };
};`;

const drv: Driver = { name: 'dma-test', ofMatchTable: [{ compatible: 'gki,dma-master' }], probe: () => 0 };
const k = Kernel.boot(Board.fromDtb(compileDts(DTS)), {
  builtin: [ioPgtableCoreModule],
  modules: [ioPgtableArm, qcomIommu, { name: 'dma_test', version: '0', license: 'GPL v2', init: (c) => c.kernel.drivers.registerDriver(drv) }],
  load: ['dma_test', 'qcom_iommu'],
});
const dev = k.drivers.findDevice('1a01000.dma')!;
const dom = iommuDomainAlloc(dev) as IommuDomain;
if (typeof dom === 'number' || iommuAttachDevice(dom, dev) !== 0) throw new Error('no qcom_iommu domain');
const PAGES = 256;
const IOVA = 0x1000_0000;
const PA = k.pages.allocPages(8);

const bench = new Bench({ iterations: RUNS, warmupIterations: 2, setup });
bench.add(`map + unmap ${PAGES} x 4 KiB, one page per call`, () => {
  for (let i = 0; i < PAGES; i++) if (iommuMap(dom, IOVA + i * 4096, PA + i * 4096, 4096, IOMMU_READ | IOMMU_WRITE) !== 0) throw new Error('map failed');
  if (iommuIovaToPhys(dom, IOVA + 4096) !== PA + 4096) throw new Error('not mapped');
  for (let i = 0; i < PAGES; i++) if (iommuUnmap(dom, IOVA + i * 4096, 4096) !== 4096) throw new Error('unmap failed');
  if (iommuIovaToPhys(dom, IOVA + 4096) !== 0) throw new Error('still mapped');
});
await bench.run();
console.table(bench.table());
