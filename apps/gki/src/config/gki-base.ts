/** The name the built-in GKI base goes by in diagnostics (`<gki-base>:12: ...`). */
export const GKI_BASE_NAME = '<gki-base>';

/**
 * The default base configuration a fragment is merged onto, as merge_config.sh merges a board
 * fragment onto gki_defconfig. Data, not code: `gki config base` prints it, `--base FILE`
 * replaces it.
 */
export const GKI_BASE_CONFIG = `# GKI base configuration of the gki composer.
#
# Part 1 is the lines of Android's GKI arm64 defconfig (arch/arm64/configs/gki_defconfig,
# the same in the android14-6.1 and android16-6.12 branches) that concern the stack this
# project models or that the stack's Kconfig dependencies mention. Part 2 is kernel symbols
# the defconfig does not spell out (savedefconfig drops lines equal to their Kconfig
# result), written as the GKI kernel's .config resolves them.
#
# GKI builds no SMMU and no GPU driver: gki_defconfig has no line for
# IOMMU_IO_PGTABLE_LPAE, ARM_SMMU, ARM_SMMU_V3, DRM_MSM or DRM_PANFROST. A board adds them
# as vendor modules in a fragment merged on top of this file.

# ---- Part 1: from gki_defconfig
CONFIG_NR_CPUS=32
CONFIG_ARCH_QCOM=y
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_MODVERSIONS=y
CONFIG_MODULE_SIG=y
CONFIG_MODPROBE_PATH="/system/bin/modprobe"
CONFIG_DRM=y
CONFIG_IOMMU_IO_PGTABLE_ARMV7S=y

# ---- Part 2: as the GKI kernel resolves them
# EMBEDDED=y in the defconfig (EXPERT=y in later branches) turns EXPERT on
CONFIG_EXPERT=y
# COMPILE_TEST is never on in a product kernel
# CONFIG_COMPILE_TEST is not set
# not selected by the defconfig's platforms
# CONFIG_ARCH_ROCKCHIP is not set
# PM_SLEEP (from SUSPEND and HIBERNATION=y) selects PM
CONFIG_PM=y
# arm64 selects OF and COMMON_CLK
CONFIG_OF=y
CONFIG_COMMON_CLK=y
# IOMMU_SUPPORT defaults to y
CONFIG_IOMMU_SUPPORT=y
`;
