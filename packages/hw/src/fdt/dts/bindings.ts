/**
 * The dt-bindings headers the compiler ships, for the constants kernel device trees use in
 * interrupt and GPIO specifiers (and a few more SoC-independent ones: thermal limits, PHY
 * types, Qualcomm RPMh command sets, Rockchip pin numbers), and the stream IDs Tegra 186/194/234
 * trees give their Arm MMU-500 in `iommus`. They hold the same numbers as the kernel's
 * include/dt-bindings headers of the same names (these numbers are ABI between device trees
 * and drivers); the text is this project's own.
 *
 * They are found as `#include <dt-bindings/...>` after every user include directory, so a
 * kernel checkout given with `includeDirs` takes precedence. A `<dt-bindings/...>` header
 * found nowhere is tolerated (with a warning). A macro it would have defined, used in a
 * property the project does not read (`interconnects`, `clocks`, `resets`, ...), compiles to 0
 * with a warning naming the macro, the header and the place; used in a property the project
 * reads (see interpreted.ts) it is an error naming the macro and the header.
 */
export const BUILTIN_DT_BINDINGS: Readonly<Record<string, string>> = {
  'dt-bindings/interrupt-controller/irq.h': `/* Interrupt trigger types: the flags cell of most interrupt specifiers. */
#ifndef GKI_DT_BINDINGS_IRQ_H
#define GKI_DT_BINDINGS_IRQ_H
#define IRQ_TYPE_NONE 0
#define IRQ_TYPE_EDGE_RISING 1
#define IRQ_TYPE_EDGE_FALLING 2
#define IRQ_TYPE_EDGE_BOTH (IRQ_TYPE_EDGE_FALLING | IRQ_TYPE_EDGE_RISING)
#define IRQ_TYPE_LEVEL_HIGH 4
#define IRQ_TYPE_LEVEL_LOW 8
#endif
`,
  'dt-bindings/interrupt-controller/arm-gic.h': `/* Arm GIC interrupt specifiers: <type number flags> (GICv3 may add a fourth, affinity cell). */
#ifndef GKI_DT_BINDINGS_ARM_GIC_H
#define GKI_DT_BINDINGS_ARM_GIC_H
#include <dt-bindings/interrupt-controller/irq.h>
/* first cell: the interrupt type */
#define GIC_SPI 0
#define GIC_PPI 1
#define GIC_ESPI 2
#define GIC_EPPI 3
/* third cell of GICv1/v2 PPIs: the CPUs the interrupt is wired to, in bits 8..15 */
#define GIC_CPU_MASK_RAW(x) ((x) << 8)
#define GIC_CPU_MASK_SIMPLE(num) GIC_CPU_MASK_RAW((1 << (num)) - 1)
#endif
`,
  'dt-bindings/gpio/gpio.h': `/* Flags cell of GPIO specifiers. */
#ifndef GKI_DT_BINDINGS_GPIO_H
#define GKI_DT_BINDINGS_GPIO_H
#define GPIO_ACTIVE_HIGH 0
#define GPIO_ACTIVE_LOW 1
#define GPIO_PUSH_PULL 0
#define GPIO_SINGLE_ENDED 2
#define GPIO_LINE_OPEN_SOURCE 0
#define GPIO_LINE_OPEN_DRAIN 4
#define GPIO_OPEN_DRAIN (GPIO_SINGLE_ENDED | GPIO_LINE_OPEN_DRAIN)
#define GPIO_OPEN_SOURCE (GPIO_SINGLE_ENDED | GPIO_LINE_OPEN_SOURCE)
#define GPIO_PERSISTENT 0
#define GPIO_TRANSITORY 8
#define GPIO_PULL_UP 16
#define GPIO_PULL_DOWN 32
#define GPIO_PULL_DISABLE 64
#endif
`,
  'dt-bindings/thermal/thermal.h': `/* Thermal cooling-map limits. */
#ifndef GKI_DT_BINDINGS_THERMAL_H
#define GKI_DT_BINDINGS_THERMAL_H
#define THERMAL_NO_LIMIT (~0)
#endif
`,
  'dt-bindings/phy/phy.h': `/* PHY types: the argument cell of combo PHYs (phys = <&phy PHY_TYPE_USB3>). */
#ifndef GKI_DT_BINDINGS_PHY_H
#define GKI_DT_BINDINGS_PHY_H
#define PHY_NONE 0
#define PHY_TYPE_SATA 1
#define PHY_TYPE_PCIE 2
#define PHY_TYPE_USB2 3
#define PHY_TYPE_USB3 4
#define PHY_TYPE_UFS 5
#define PHY_TYPE_DP 6
#define PHY_TYPE_XPCS 7
#define PHY_TYPE_SGMII 8
#define PHY_TYPE_QSGMII 9
#define PHY_TYPE_DPHY 10
#define PHY_TYPE_CPHY 11
#define PHY_TYPE_USXGMII 12
#endif
`,
  'dt-bindings/soc/qcom,rpmh-rsc.h': `/* Qualcomm RPMh resource-state coordinator: trigger command set kinds. */
#ifndef GKI_DT_BINDINGS_QCOM_RPMH_RSC_H
#define GKI_DT_BINDINGS_QCOM_RPMH_RSC_H
#define SLEEP_TCS 0
#define WAKE_TCS 1
#define ACTIVE_TCS 2
#define CONTROL_TCS 3
#endif
`,
  'dt-bindings/pinctrl/rockchip.h': `/* Rockchip pin controller: GPIO banks, pins within a bank (port A..D, 0..7), the GPIO function. */
#ifndef GKI_DT_BINDINGS_ROCKCHIP_PINCTRL_H
#define GKI_DT_BINDINGS_ROCKCHIP_PINCTRL_H
#define RK_GPIO0 0
#define RK_GPIO1 1
#define RK_GPIO2 2
#define RK_GPIO3 3
#define RK_GPIO4 4
#define RK_GPIO5 5
#define RK_GPIO6 6
#define RK_PA0 0
#define RK_PA1 1
#define RK_PA2 2
#define RK_PA3 3
#define RK_PA4 4
#define RK_PA5 5
#define RK_PA6 6
#define RK_PA7 7
#define RK_PB0 8
#define RK_PB1 9
#define RK_PB2 10
#define RK_PB3 11
#define RK_PB4 12
#define RK_PB5 13
#define RK_PB6 14
#define RK_PB7 15
#define RK_PC0 16
#define RK_PC1 17
#define RK_PC2 18
#define RK_PC3 19
#define RK_PC4 20
#define RK_PC5 21
#define RK_PC6 22
#define RK_PC7 23
#define RK_PD0 24
#define RK_PD1 25
#define RK_PD2 26
#define RK_PD3 27
#define RK_PD4 28
#define RK_PD5 29
#define RK_PD6 30
#define RK_PD7 31
#define RK_FUNC_GPIO 0
#endif
`,
  'dt-bindings/memory/tegra186-mc.h': `/*
 * NVIDIA Tegra186 memory controller: the SMMU stream IDs (the cell after the SMMU phandle in
 * \`iommus\`) only. Memory-client IDs (interconnect endpoints) are not shipped; the DTS
 * compiler reads them as 0 in properties nothing here interprets.
 */
#ifndef GKI_DT_BINDINGS_TEGRA186_MC_H
#define GKI_DT_BINDINGS_TEGRA186_MC_H
#define TEGRA186_SID_INVALID 0x00
#define TEGRA186_SID_PASSTHROUGH 0x7f
#define TEGRA186_SID_HOST1X 0x01
#define TEGRA186_SID_CSI 0x02
#define TEGRA186_SID_VIC 0x03
#define TEGRA186_SID_VI 0x04
#define TEGRA186_SID_ISP 0x05
#define TEGRA186_SID_NVDEC 0x06
#define TEGRA186_SID_NVENC 0x07
#define TEGRA186_SID_NVJPG 0x08
#define TEGRA186_SID_NVDISPLAY 0x09
#define TEGRA186_SID_TSEC 0x0a
#define TEGRA186_SID_TSECB 0x0b
#define TEGRA186_SID_SE 0x0c
#define TEGRA186_SID_SE1 0x0d
#define TEGRA186_SID_SE2 0x0e
#define TEGRA186_SID_SE3 0x0f
#define TEGRA186_SID_GPU 0x10
#define TEGRA186_SID_AFI 0x11
#define TEGRA186_SID_HDA 0x12
#define TEGRA186_SID_ETR 0x13
#define TEGRA186_SID_EQOS 0x14
#define TEGRA186_SID_UFSHC 0x15
#define TEGRA186_SID_AON 0x16
#define TEGRA186_SID_SDMMC4 0x17
#define TEGRA186_SID_SDMMC3 0x18
#define TEGRA186_SID_SDMMC2 0x19
#define TEGRA186_SID_SDMMC1 0x1a
#define TEGRA186_SID_XUSB_HOST 0x1b
#define TEGRA186_SID_XUSB_DEV 0x1c
#define TEGRA186_SID_SATA 0x1d
#define TEGRA186_SID_APE 0x1e
#define TEGRA186_SID_SCE 0x1f
#define TEGRA186_SID_GPCDMA_0 0x20
#define TEGRA186_SID_GPCDMA_1 0x21
#define TEGRA186_SID_GPCDMA_2 0x22
#define TEGRA186_SID_GPCDMA_3 0x23
#define TEGRA186_SID_GPCDMA_4 0x24
#define TEGRA186_SID_GPCDMA_5 0x25
#define TEGRA186_SID_GPCDMA_6 0x26
#define TEGRA186_SID_GPCDMA_7 0x27
#define TEGRA186_SID_APE_1 0x28
#define TEGRA186_SID_APE_2 0x29
#define TEGRA186_SID_RCE 0x2a
#define TEGRA186_SID_RCE_1X 0x2b
#define TEGRA186_SID_APE_3 0x2c
#define TEGRA186_SID_APE_CAM 0x2d
#define TEGRA186_SID_APE_CAM_1X 0x2e
#define TEGRA186_SID_BPMP 0x32
#define TEGRA186_SID_SMMU_TEST 0x33
#define TEGRA186_SID_HOST1X_CTX0 0x38
#define TEGRA186_SID_HOST1X_CTX1 0x39
#define TEGRA186_SID_HOST1X_CTX2 0x3a
#define TEGRA186_SID_HOST1X_CTX3 0x3b
#define TEGRA186_SID_HOST1X_CTX4 0x3c
#define TEGRA186_SID_HOST1X_CTX5 0x3d
#define TEGRA186_SID_HOST1X_CTX6 0x3e
#define TEGRA186_SID_HOST1X_CTX7 0x3f
#define TEGRA186_SID_HOST1X_VM0 0x40
#define TEGRA186_SID_HOST1X_VM1 0x41
#define TEGRA186_SID_HOST1X_VM2 0x42
#define TEGRA186_SID_HOST1X_VM3 0x43
#define TEGRA186_SID_HOST1X_VM4 0x44
#define TEGRA186_SID_HOST1X_VM5 0x45
#define TEGRA186_SID_HOST1X_VM6 0x46
#define TEGRA186_SID_HOST1X_VM7 0x47
#define TEGRA186_SID_SE_VM0 0x48
#define TEGRA186_SID_SE_VM1 0x49
#define TEGRA186_SID_SE_VM2 0x4a
#define TEGRA186_SID_SE_VM3 0x4b
#define TEGRA186_SID_SE_VM4 0x4c
#define TEGRA186_SID_SE_VM5 0x4d
#define TEGRA186_SID_SE_VM6 0x4e
#define TEGRA186_SID_SE_VM7 0x4f
#endif
`,
  'dt-bindings/memory/tegra194-mc.h': `/*
 * NVIDIA Tegra194 memory controller: the SMMU stream IDs (the cell after the SMMU phandle in
 * \`iommus\`) only. Memory-client IDs (interconnect endpoints) are not shipped; the DTS
 * compiler reads them as 0 in properties nothing here interprets.
 */
#ifndef GKI_DT_BINDINGS_TEGRA194_MC_H
#define GKI_DT_BINDINGS_TEGRA194_MC_H
#define TEGRA194_SID_INVALID 0x00
#define TEGRA194_SID_PASSTHROUGH 0x7f
#define TEGRA194_SID_HOST1X 0x01
#define TEGRA194_SID_CSI 0x02
#define TEGRA194_SID_VIC 0x03
#define TEGRA194_SID_VI 0x04
#define TEGRA194_SID_ISP 0x05
#define TEGRA194_SID_NVDEC 0x06
#define TEGRA194_SID_NVENC 0x07
#define TEGRA194_SID_NVJPG 0x08
#define TEGRA194_SID_NVDISPLAY 0x09
#define TEGRA194_SID_TSEC 0x0a
#define TEGRA194_SID_TSECB 0x0b
#define TEGRA194_SID_SE 0x0c
#define TEGRA194_SID_SE1 0x0d
#define TEGRA194_SID_SE2 0x0e
#define TEGRA194_SID_SE3 0x0f
#define TEGRA194_SID_GPU 0x10
#define TEGRA194_SID_AFI 0x11
#define TEGRA194_SID_HDA 0x12
#define TEGRA194_SID_ETR 0x13
#define TEGRA194_SID_EQOS 0x14
#define TEGRA194_SID_UFSHC 0x15
#define TEGRA194_SID_AON 0x16
#define TEGRA194_SID_SDMMC4 0x17
#define TEGRA194_SID_SDMMC3 0x18
#define TEGRA194_SID_SDMMC2 0x19
#define TEGRA194_SID_SDMMC1 0x1a
#define TEGRA194_SID_XUSB_HOST 0x1b
#define TEGRA194_SID_XUSB_DEV 0x1c
#define TEGRA194_SID_SATA 0x1d
#define TEGRA194_SID_APE 0x1e
#define TEGRA194_SID_SCE 0x1f
#define TEGRA194_SID_GPCDMA_0 0x20
#define TEGRA194_SID_GPCDMA_1 0x21
#define TEGRA194_SID_GPCDMA_2 0x22
#define TEGRA194_SID_GPCDMA_3 0x23
#define TEGRA194_SID_GPCDMA_4 0x24
#define TEGRA194_SID_GPCDMA_5 0x25
#define TEGRA194_SID_GPCDMA_6 0x26
#define TEGRA194_SID_GPCDMA_7 0x27
#define TEGRA194_SID_APE_1 0x28
#define TEGRA194_SID_APE_2 0x29
#define TEGRA194_SID_RCE 0x2a
#define TEGRA194_SID_RCE_1X 0x2b
#define TEGRA194_SID_APE_3 0x2c
#define TEGRA194_SID_APE_CAM 0x2d
#define TEGRA194_SID_APE_CAM_1X 0x2e
#define TEGRA194_SID_RCE_RM 0x2f
#define TEGRA194_SID_VI_FALCON 0x30
#define TEGRA194_SID_ISP_FALCON 0x31
#define TEGRA194_SID_BPMP 0x32
#define TEGRA194_SID_SMMU_TEST 0x33
#define TEGRA194_SID_HOST1X_CTX0 0x38
#define TEGRA194_SID_HOST1X_CTX1 0x39
#define TEGRA194_SID_HOST1X_CTX2 0x3a
#define TEGRA194_SID_HOST1X_CTX3 0x3b
#define TEGRA194_SID_HOST1X_CTX4 0x3c
#define TEGRA194_SID_HOST1X_CTX5 0x3d
#define TEGRA194_SID_HOST1X_CTX6 0x3e
#define TEGRA194_SID_HOST1X_CTX7 0x3f
#define TEGRA194_SID_HOST1X_VM0 0x40
#define TEGRA194_SID_HOST1X_VM1 0x41
#define TEGRA194_SID_HOST1X_VM2 0x42
#define TEGRA194_SID_HOST1X_VM3 0x43
#define TEGRA194_SID_HOST1X_VM4 0x44
#define TEGRA194_SID_HOST1X_VM5 0x45
#define TEGRA194_SID_HOST1X_VM6 0x46
#define TEGRA194_SID_HOST1X_VM7 0x47
#define TEGRA194_SID_SE_VM0 0x48
#define TEGRA194_SID_SE_VM1 0x49
#define TEGRA194_SID_SE_VM2 0x4a
#define TEGRA194_SID_SE_VM3 0x4b
#define TEGRA194_SID_SE_VM4 0x4c
#define TEGRA194_SID_SE_VM5 0x4d
#define TEGRA194_SID_SE_VM6 0x4e
#define TEGRA194_SID_SE_VM7 0x4f
#define TEGRA194_SID_MIU 0x50
#define TEGRA194_SID_NVDLA0 0x51
#define TEGRA194_SID_NVDLA1 0x52
#define TEGRA194_SID_PVA0 0x53
#define TEGRA194_SID_PVA1 0x54
#define TEGRA194_SID_NVENC1 0x55
#define TEGRA194_SID_PCIE0 0x56
#define TEGRA194_SID_PCIE1 0x57
#define TEGRA194_SID_PCIE2 0x58
#define TEGRA194_SID_PCIE3 0x59
#define TEGRA194_SID_PCIE4 0x5a
#define TEGRA194_SID_PCIE5 0x5b
#define TEGRA194_SID_NVDEC1 0x5c
#define TEGRA194_SID_XUSB_VF0 0x5d
#define TEGRA194_SID_XUSB_VF1 0x5e
#define TEGRA194_SID_XUSB_VF2 0x5f
#define TEGRA194_SID_XUSB_VF3 0x60
#define TEGRA194_SID_RCE_VM3 0x61
#define TEGRA194_SID_VI_VM2 0x62
#define TEGRA194_SID_VI_VM3 0x63
#define TEGRA194_SID_RCE_SERVER 0x64
#endif
`,
  'dt-bindings/memory/tegra234-mc.h': `/*
 * NVIDIA Tegra234 memory controller: the SMMU stream IDs (the cell after the SMMU phandle in
 * \`iommus\`) only. Memory-client IDs (interconnect endpoints) are not shipped; the DTS
 * compiler reads them as 0 in properties nothing here interprets.
 */
#ifndef GKI_DT_BINDINGS_TEGRA234_MC_H
#define GKI_DT_BINDINGS_TEGRA234_MC_H
#define TEGRA234_SID_INVALID 0x00
#define TEGRA234_SID_PASSTHROUGH 0x7f
#define TEGRA234_SID_ISO_NVDISPLAY 0x01
#define TEGRA234_SID_ISO_VI 0x02
#define TEGRA234_SID_ISO_VIFALC 0x03
#define TEGRA234_SID_ISO_VI2 0x04
#define TEGRA234_SID_ISO_VI2FALC 0x05
#define TEGRA234_SID_ISO_VI_VM2 0x06
#define TEGRA234_SID_ISO_VI2_VM2 0x07
#define TEGRA234_SID_AON 0x01
#define TEGRA234_SID_APE 0x02
#define TEGRA234_SID_HDA 0x03
#define TEGRA234_SID_GPCDMA 0x04
#define TEGRA234_SID_ETR 0x05
#define TEGRA234_SID_MGBE 0x06
#define TEGRA234_SID_NVDISPLAY 0x07
#define TEGRA234_SID_DCE 0x08
#define TEGRA234_SID_PSC 0x09
#define TEGRA234_SID_RCE 0x0a
#define TEGRA234_SID_SCE 0x0b
#define TEGRA234_SID_UFSHC 0x0c
#define TEGRA234_SID_APE_1 0x0d
#define TEGRA234_SID_GPCDMA_1 0x0e
#define TEGRA234_SID_GPCDMA_2 0x0f
#define TEGRA234_SID_GPCDMA_3 0x10
#define TEGRA234_SID_GPCDMA_4 0x11
#define TEGRA234_SID_PCIE0 0x12
#define TEGRA234_SID_PCIE4 0x13
#define TEGRA234_SID_PCIE5 0x14
#define TEGRA234_SID_PCIE6 0x15
#define TEGRA234_SID_RCE_VM2 0x16
#define TEGRA234_SID_RCE_SERVER 0x17
#define TEGRA234_SID_SMMU_TEST 0x18
#define TEGRA234_SID_UFS_1 0x19
#define TEGRA234_SID_UFS_2 0x1a
#define TEGRA234_SID_UFS_3 0x1b
#define TEGRA234_SID_UFS_4 0x1c
#define TEGRA234_SID_UFS_5 0x1d
#define TEGRA234_SID_UFS_6 0x1e
#define TEGRA234_SID_PCIE9 0x1f
#define TEGRA234_SID_VSE_GPCDMA_VM0 0x20
#define TEGRA234_SID_VSE_GPCDMA_VM1 0x21
#define TEGRA234_SID_VSE_GPCDMA_VM2 0x22
#define TEGRA234_SID_NVDLA1 0x23
#define TEGRA234_SID_NVENC 0x24
#define TEGRA234_SID_NVJPG1 0x25
#define TEGRA234_SID_OFA 0x26
#define TEGRA234_SID_MGBE_VF1 0x49
#define TEGRA234_SID_MGBE_VF2 0x4a
#define TEGRA234_SID_MGBE_VF3 0x4b
#define TEGRA234_SID_MGBE_VF4 0x4c
#define TEGRA234_SID_MGBE_VF5 0x4d
#define TEGRA234_SID_MGBE_VF6 0x4e
#define TEGRA234_SID_MGBE_VF7 0x4f
#define TEGRA234_SID_MGBE_VF8 0x50
#define TEGRA234_SID_MGBE_VF9 0x51
#define TEGRA234_SID_MGBE_VF10 0x52
#define TEGRA234_SID_MGBE_VF11 0x53
#define TEGRA234_SID_MGBE_VF12 0x54
#define TEGRA234_SID_MGBE_VF13 0x55
#define TEGRA234_SID_MGBE_VF14 0x56
#define TEGRA234_SID_MGBE_VF15 0x57
#define TEGRA234_SID_MGBE_VF16 0x58
#define TEGRA234_SID_MGBE_VF17 0x59
#define TEGRA234_SID_MGBE_VF18 0x5a
#define TEGRA234_SID_MGBE_VF19 0x5b
#define TEGRA234_SID_MGBE_VF20 0x5c
#define TEGRA234_SID_APE_2 0x5e
#define TEGRA234_SID_APE_3 0x5f
#define TEGRA234_SID_UFS_7 0x60
#define TEGRA234_SID_UFS_8 0x61
#define TEGRA234_SID_UFS_9 0x62
#define TEGRA234_SID_UFS_10 0x63
#define TEGRA234_SID_UFS_11 0x64
#define TEGRA234_SID_UFS_12 0x65
#define TEGRA234_SID_UFS_13 0x66
#define TEGRA234_SID_UFS_14 0x67
#define TEGRA234_SID_UFS_15 0x68
#define TEGRA234_SID_UFS_16 0x69
#define TEGRA234_SID_UFS_17 0x6a
#define TEGRA234_SID_UFS_18 0x6b
#define TEGRA234_SID_UFS_19 0x6c
#define TEGRA234_SID_UFS_20 0x6d
#define TEGRA234_SID_GPCDMA_5 0x6e
#define TEGRA234_SID_GPCDMA_6 0x6f
#define TEGRA234_SID_GPCDMA_7 0x70
#define TEGRA234_SID_GPCDMA_8 0x71
#define TEGRA234_SID_GPCDMA_9 0x72
#define TEGRA234_SID_SDMMC1A 0x01
#define TEGRA234_SID_SDMMC4 0x02
#define TEGRA234_SID_EQOS 0x03
#define TEGRA234_SID_HWMP_PMA 0x04
#define TEGRA234_SID_PCIE1 0x05
#define TEGRA234_SID_PCIE2 0x06
#define TEGRA234_SID_PCIE3 0x07
#define TEGRA234_SID_PCIE7 0x08
#define TEGRA234_SID_PCIE8 0x09
#define TEGRA234_SID_PCIE10 0x0b
#define TEGRA234_SID_QSPI0 0x0c
#define TEGRA234_SID_QSPI1 0x0d
#define TEGRA234_SID_XUSB_HOST 0x0e
#define TEGRA234_SID_XUSB_DEV 0x0f
#define TEGRA234_SID_BPMP 0x10
#define TEGRA234_SID_FSI 0x11
#define TEGRA234_SID_PVA0_VM0 0x12
#define TEGRA234_SID_PVA0_VM1 0x13
#define TEGRA234_SID_PVA0_VM2 0x14
#define TEGRA234_SID_PVA0_VM3 0x15
#define TEGRA234_SID_PVA0_VM4 0x16
#define TEGRA234_SID_PVA0_VM5 0x17
#define TEGRA234_SID_PVA0_VM6 0x18
#define TEGRA234_SID_PVA0_VM7 0x19
#define TEGRA234_SID_XUSB_VF0 0x1a
#define TEGRA234_SID_XUSB_VF1 0x1b
#define TEGRA234_SID_XUSB_VF2 0x1c
#define TEGRA234_SID_XUSB_VF3 0x1d
#define TEGRA234_SID_EQOS_VF1 0x1e
#define TEGRA234_SID_EQOS_VF2 0x1f
#define TEGRA234_SID_EQOS_VF3 0x20
#define TEGRA234_SID_EQOS_VF4 0x21
#define TEGRA234_SID_ISP_VM2 0x22
#define TEGRA234_SID_HOST1X 0x27
#define TEGRA234_SID_ISP 0x28
#define TEGRA234_SID_NVDEC 0x29
#define TEGRA234_SID_NVJPG 0x2a
#define TEGRA234_SID_NVDLA0 0x2b
#define TEGRA234_SID_PVA0 0x2c
#define TEGRA234_SID_SES_SE0 0x2d
#define TEGRA234_SID_SES_SE1 0x2e
#define TEGRA234_SID_SES_SE2 0x2f
#define TEGRA234_SID_SEU1_SE0 0x30
#define TEGRA234_SID_SEU1_SE1 0x31
#define TEGRA234_SID_SEU1_SE2 0x32
#define TEGRA234_SID_TSEC 0x33
#define TEGRA234_SID_VIC 0x34
#define TEGRA234_SID_HC_VM0 0x3d
#define TEGRA234_SID_HC_VM1 0x3e
#define TEGRA234_SID_HC_VM2 0x3f
#define TEGRA234_SID_HC_VM3 0x40
#define TEGRA234_SID_HC_VM4 0x41
#define TEGRA234_SID_HC_VM5 0x42
#define TEGRA234_SID_HC_VM6 0x43
#define TEGRA234_SID_HC_VM7 0x44
#define TEGRA234_SID_SE_VM0 0x45
#define TEGRA234_SID_SE_VM1 0x46
#define TEGRA234_SID_SE_VM2 0x47
#define TEGRA234_SID_ISPFALC 0x48
#define TEGRA234_SID_NISO1_SMMU_TEST 0x49
#define TEGRA234_SID_TSEC_VM0 0x4a
#define TEGRA234_SID_HOST1X_CTX0 0x35
#define TEGRA234_SID_HOST1X_CTX1 0x36
#define TEGRA234_SID_HOST1X_CTX2 0x37
#define TEGRA234_SID_HOST1X_CTX3 0x38
#define TEGRA234_SID_HOST1X_CTX4 0x39
#define TEGRA234_SID_HOST1X_CTX5 0x3a
#define TEGRA234_SID_HOST1X_CTX6 0x3b
#define TEGRA234_SID_HOST1X_CTX7 0x3c
#endif
`,
  'dt-bindings/memory/nvidia,tegra264.h': `/*
 * NVIDIA Tegra264 memory controller: the SMMU stream IDs (the cell after the SMMU phandle in
 * \`iommus\`), each a client index shifted left by 8. Memory-client IDs (interconnect
 * endpoints) are not shipped; the DTS compiler reads them as 0 in properties nothing here
 * interprets.
 */
#ifndef GKI_DT_BINDINGS_TEGRA264_MC_H
#define GKI_DT_BINDINGS_TEGRA264_MC_H
#define TEGRA264_SID_AON 0x0100
#define TEGRA264_SID_APE 0x0200
#define TEGRA264_SID_ETR 0x0300
#define TEGRA264_SID_BPMP 0x0400
#define TEGRA264_SID_DCE 0x0500
#define TEGRA264_SID_EQOS 0x0600
#define TEGRA264_SID_GPCDMA 0x0800
#define TEGRA264_SID_DISP 0x0900
#define TEGRA264_SID_HDA 0x0a00
#define TEGRA264_SID_HOST1X 0x0b00
#define TEGRA264_SID_ISP0 0x0c00
#define TEGRA264_SID_ISP1 0x0d00
#define TEGRA264_SID_PMA0 0x0e00
#define TEGRA264_SID_FSI0 0x0f00
#define TEGRA264_SID_FSI1 0x1000
#define TEGRA264_SID_PVA 0x1100
#define TEGRA264_SID_SDMMC0 0x1200
#define TEGRA264_SID_MGBE0 0x1300
#define TEGRA264_SID_MGBE1 0x1400
#define TEGRA264_SID_MGBE2 0x1500
#define TEGRA264_SID_MGBE3 0x1600
#define TEGRA264_SID_MSSSEQ 0x1700
#define TEGRA264_SID_SE 0x1800
#define TEGRA264_SID_SEU1 0x1900
#define TEGRA264_SID_SEU2 0x1a00
#define TEGRA264_SID_SEU3 0x1b00
#define TEGRA264_SID_PSC 0x1c00
#define TEGRA264_SID_OESP 0x2300
#define TEGRA264_SID_SB 0x2400
#define TEGRA264_SID_XSPI0 0x2500
#define TEGRA264_SID_TSEC 0x2900
#define TEGRA264_SID_UFS 0x2a00
#define TEGRA264_SID_RCE 0x2b00
#define TEGRA264_SID_RCE1 0x2c00
#define TEGRA264_SID_VI 0x2e00
#define TEGRA264_SID_VI1 0x2f00
#define TEGRA264_SID_VIC 0x3000
#define TEGRA264_SID_XUSB_DEV 0x3200
#define TEGRA264_SID_XUSB_DEV1 0x3300
#define TEGRA264_SID_XUSB_DEV2 0x3400
#define TEGRA264_SID_XUSB_DEV3 0x3500
#define TEGRA264_SID_XUSB_DEV4 0x3600
#define TEGRA264_SID_XUSB_DEV5 0x3700
#endif
`,
};

/**
 * Shipped headers that hold only part of the kernel's: a macro nobody defined may come from
 * the rest of them (Tegra memory-client IDs in `interconnects`), so including one counts as a
 * missing header for the DTS compiler's tolerance of undefined macros.
 */
export const PARTIAL_DT_BINDINGS: ReadonlySet<string> = new Set([
  'dt-bindings/memory/tegra186-mc.h',
  'dt-bindings/memory/tegra194-mc.h',
  'dt-bindings/memory/tegra234-mc.h',
  'dt-bindings/memory/nvidia,tegra264.h',
]);
