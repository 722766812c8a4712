// Generated from package.json by scripts/versions.mjs (run on every build): do not edit.
/** The version of @gki/qcom-iommu, as in its package.json. */
export const PACKAGE_VERSION = "0.1.0";
