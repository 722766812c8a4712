/** A finding about the inputs, printed Kconfig-style: `FILE:LINE: warning: message`. */
export interface Diagnostic {
  severity: 'error' | 'warning' | 'notice';
  /** The input file (as the user named it) and 1-based line, when a line is to blame. */
  file?: string;
  line?: number;
  /** First line of the message. */
  message: string;
  /** Indented detail lines (Kconfig's "Depends on [n]: ..." and the like). */
  detail?: string[];
}

/** The diagnostic as printed: a located first line, then its detail lines indented by two. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file !== undefined ? `${d.file}${d.line !== undefined ? `:${d.line}` : ''}: ` : '';
  const head = d.severity === 'notice' ? `${where}${d.message}` : `${where}${d.severity}: ${d.message}`;
  return [head, ...(d.detail ?? []).map((l) => `  ${l}`)].join('\n');
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
