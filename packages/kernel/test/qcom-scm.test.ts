/**
 * The built-in qcom_scm interface over the SMC conduit, anchored on Linux 6.12's
 * drivers/firmware/qcom/qcom_scm.c: the driver binds the `qcom,scm` node under /firmware,
 * qcom_scm_is_available turns true at probe, the IOMMU calls reach the board's TrustZone model
 * with the SMCCC SiP function numbers (MP service 0xc: restore_sec_cfg 2, secure page table
 * size 3 and init 4), firmware statuses become Linux's errnos, and a board without secure
 * firmware answers -EIO (SMCCC NOT_SUPPORTED is -1).
 */
import { Board, compileDts, QcomIommu, QcomTrustZone } from '@gki/hw';
import { describe, expect, it } from 'vitest';
import {
  EINVAL,
  EIO,
  ENODEV,
  Kernel,
  qcomScmIommuSecurePtblInit,
  qcomScmIommuSecurePtblSize,
  qcomScmIsAvailable,
  qcomScmRestoreSecCfg,
  qcomScmRestoreSecCfgAvailable,
} from '../src/index.js';

const DTS = (scm: boolean) => `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  interrupt-parent = <&intc>;
  intc: interrupt-controller { interrupt-controller; #interrupt-cells = <1>; };
  memory@80000000 { device_type = "memory"; reg = <0x80000000 0x4000000>; };
  ${scm ? 'firmware { scm { compatible = "qcom,scm-msm8916", "qcom,scm"; }; };' : ''}
  apps_iommu: iommu@1ef0000 {
    compatible = "qcom,msm8916-iommu", "qcom,msm-iommu-v1";
    #address-cells = <1>; #size-cells = <1>; #iommu-cells = <1>;
    ranges = <0 0x01e20000 0x20000>;
    reg = <0x01ef0000 0x3000>;
    qcom,iommu-secure-id = <17>;
    iommu-ctx@4000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x4000 0x1000>; interrupts = <102>; };
  };
};
`;

function boot(scm = true) {
  const board = Board.fromDtb(compileDts(DTS(scm)));
  const k = Kernel.boot(board, { builtin: [], modules: [] });
  return { board, k };
}

describe('qcom_scm', () => {
  it('binds the firmware node, detects the SMC64 convention and becomes available', () => {
    const { board, k } = boot();
    expect(board.secureMonitor).toBeInstanceOf(QcomTrustZone);
    expect(qcomScmIsAvailable(k)).toBe(true);
    expect(k.log.grep('qcom_scm: convention: smc arm 64').length).toBe(1);
    expect(k.drivers.allDevices().find((d) => d.name === 'firmware:scm')?.driver?.name).toBe('qcom_scm');
    expect(qcomScmRestoreSecCfgAvailable(k)).toBe(true);
  });

  it('restore_sec_cfg programs the IOMMU the secure id names; an unknown id is -EINVAL', () => {
    const { board, k } = boot();
    const iommu = board.models.get('/iommu@1ef0000') as QcomIommu;
    const tz = board.secureMonitor as QcomTrustZone;
    expect(iommu.secureConfigured).toBe(false);
    expect(qcomScmRestoreSecCfg(k, 17, 4)).toBe(0);
    expect(iommu.secureConfigured).toBe(true);
    expect(tz.stats.calls['0xc02']).toBe(1);
    expect(qcomScmRestoreSecCfg(k, 99, 0)).toBe(-EINVAL);
    expect(tz.stats.restores).toBe(1);
  });

  it('hands the firmware its secure page table memory, checking address and size', () => {
    const { board, k } = boot();
    const tz = board.secureMonitor as QcomTrustZone;
    const out = { size: 0 };
    expect(qcomScmIommuSecurePtblSize(k, 0, out)).toBe(0);
    expect(out.size).toBe(tz.securePtblSize);
    expect(qcomScmIommuSecurePtblInit(k, 0x8000_0000 + 0x123, out.size, 0)).toBe(-EINVAL); // misaligned
    expect(qcomScmIommuSecurePtblInit(k, 0x1000_0000, out.size, 0)).toBe(-EINVAL); // not RAM
    expect(qcomScmIommuSecurePtblInit(k, 0x8100_0000, out.size - 4096, 0)).toBe(-EINVAL); // too small
    expect(tz.securePtbl).toBeNull();
    expect(qcomScmIommuSecurePtblInit(k, 0x8100_0000, out.size, 0)).toBe(0);
    expect(tz.securePtbl).toEqual({ address: 0x8100_0000, size: out.size });
    // a second init: the firmware refuses it (ERROR: -EIO), and keeps the first region
    expect(qcomScmIommuSecurePtblInit(k, 0x8200_0000, out.size, 0)).toBe(-EIO);
    expect(tz.securePtbl!.address).toBe(0x8100_0000);
  });

  it('without the firmware node nothing binds: not available, calls answer -ENODEV; an SMC reaches no firmware', () => {
    const { board, k } = boot(false);
    expect(board.secureMonitor).toBeNull();
    expect(qcomScmIsAvailable(k)).toBe(false);
    expect(qcomScmRestoreSecCfg(k, 17, 0)).toBe(-ENODEV);
    expect(qcomScmIommuSecurePtblSize(k, 0, { size: 0 })).toBe(-ENODEV);
    const res = { a0: 0, a1: 0, a2: 0, a3: 0 };
    board.smc([0xc2000c02, 2, 17, 0], res);
    expect(res.a0).toBe(-1);
  });
});
