/**
 * The dt-bindings headers the compiler ships, for the constants kernel device trees use in
 * interrupt and GPIO specifiers. They hold the same numbers as the kernel's
 * include/dt-bindings headers of the same names (these numbers are ABI between device trees
 * and drivers); the text is this project's own.
 *
 * They are found as `#include <dt-bindings/...>` after every user include directory, so a
 * kernel checkout given with `includeDirs` takes precedence. A `<dt-bindings/...>` header
 * found nowhere is tolerated (with a warning) until a macro it would have defined is used;
 * that use is then an error naming the macro and the header.
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
};
