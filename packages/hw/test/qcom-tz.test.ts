/**
 * The Qualcomm TrustZone model behind `qcom,scm`, at the SMC level: SMCCC function identifiers
 * (owner SiP = 2 in bits 29:24, function number service << 8 | command in bits 15:0), a
 * non-SiP call answered NOT_SUPPORTED (-1), an unknown SiP call EOPNOTSUPP (-4), the
 * availability query, and the IOMMU services' argument checks.
 */
import { describe, expect, it } from 'vitest';
import { Board, compileDts, createSmcResult, QcomIommu, QcomTrustZone } from '../src/index.js';

const DTS = (ptbl = '') => `/dts-v1/;
/ {
  #address-cells = <1>; #size-cells = <1>;
  memory@80000000 { device_type = "memory"; reg = <0x80000000 0x1000000>; };
  firmware { scm { compatible = "qcom,scm-msm8916", "qcom,scm"; ${ptbl} }; };
  gpu_iommu: iommu@1f08000 {
    compatible = "qcom,msm8916-iommu", "qcom,msm-iommu-v1";
    #address-cells = <1>; #size-cells = <1>; #iommu-cells = <1>;
    ranges = <0 0x01f08000 0x10000>;
    qcom,iommu-secure-id = <18>;
    iommu-ctx@1000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x1000 0x1000>; };
    iommu-ctx@2000 { compatible = "qcom,msm-iommu-v1-ns"; reg = <0x2000 0x1000>; };
  };
};
`;

const SIP64 = (fn: number): number => (0x4000_0000 | (2 << 24) | fn) >>> 0;

describe('Qualcomm TrustZone model', () => {
  it('answers by owner and function number', () => {
    const board = Board.fromDtb(compileDts(DTS()));
    const tz = board.secureMonitor as QcomTrustZone;
    expect(tz).toBeInstanceOf(QcomTrustZone);
    const res = createSmcResult();
    board.smc([(0x4000_0000 | (4 << 24) | 0x0102) >>> 0], res); // owner 4 (standard secure service)
    expect(res.a0).toBe(-1);
    board.smc([SIP64(0x0c7f), 0], res);
    expect(res.a0).toBe(-4);
    board.smc([SIP64(0x0601), 1, (2 << 24) | 0x0c02], res); // is restore_sec_cfg available?
    expect([res.a0, res.a1]).toEqual([0, 1]);
    board.smc([SIP64(0x0601), 1, (2 << 24) | 0x0c7f], res);
    expect([res.a0, res.a1]).toEqual([0, 0]);
  });

  it('restores the configuration of the IOMMU its secure id names, nothing else', () => {
    const board = Board.fromDtb(compileDts(DTS()));
    const iommu = board.models.get('/iommu@1f08000') as QcomIommu;
    expect((board.secureMonitor as QcomTrustZone).iommu(18)).toBe(iommu);
    const res = createSmcResult();
    board.smc([SIP64(0x0c02), 2, 17, 0], res);
    expect(res.a0).toBe(-2);
    expect(iommu.secureConfigured).toBe(false);
    board.smc([SIP64(0x0c02), 2, 18, 0], res);
    expect([res.a0, res.a1]).toEqual([0, 0]);
    expect(iommu.secureConfigured).toBe(true);
    expect(iommu.restores).toBe(1);
  });

  it('sizes and takes the secure page table memory (gki,secure-ptbl-size overrides the size)', () => {
    const board = Board.fromDtb(compileDts(DTS('gki,secure-ptbl-size = <0x8000>;')));
    const tz = board.secureMonitor as QcomTrustZone;
    const res = createSmcResult();
    board.smc([SIP64(0x0c03), 1, 0], res);
    expect([res.a0, res.a1, res.a2]).toEqual([0, 0x8000, 0]);
    board.smc([SIP64(0x0c04), 0x22, 0x8000_0800, 0x8000, 0], res);
    expect(res.a0).toBe(-3); // not 4 KiB aligned: EINVAL_ADDR
    board.smc([SIP64(0x0c04), 0x22, 0x80ff_f000, 0x8000, 0], res);
    expect(res.a0).toBe(-3); // runs past the end of RAM
    board.smc([SIP64(0x0c04), 0x22, 0x8000_1000, 0x4000, 0], res);
    expect(res.a0).toBe(-2); // smaller than asked: EINVAL_ARG
    board.smc([SIP64(0x0c04), 0x22, 0x8000_1000, 0x8000, 0], res);
    expect(res.a0).toBe(0);
    expect(tz.securePtbl).toEqual({ address: 0x8000_1000, size: 0x8000 });
    expect(() => Board.fromDtb(compileDts(DTS('gki,secure-ptbl-size = <0x123>;')))).toThrow(/multiple of 4096/);
  });
});
