/**
 * The dt-bindings headers the compiler ships, for the constants kernel device trees use in
 * interrupt and GPIO specifiers (and a few more SoC-independent ones: thermal limits, PHY
 * types, Qualcomm RPMh command sets, Rockchip pin numbers). They hold the same numbers as the kernel's
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
};
