/** MODULE_LICENSE strings the kernel treats as GPL-compatible (license_is_gpl_compatible). */
export const GPL_COMPATIBLE_LICENSES: readonly string[] = [
  'GPL',
  'GPL v2',
  'GPL and additional rights',
  'Dual BSD/GPL',
  'Dual MIT/GPL',
  'Dual MPL/GPL',
];

export function licenseIsGplCompatible(license: string): boolean {
  return GPL_COMPATIBLE_LICENSES.includes(license);
}
