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

/** How many plain unknown-symbol warnings of one file are printed one by one. */
export const UNKNOWN_SYMBOLS_LISTED = 10;

/**
 * The diagnostics as printed: the unknown-symbol warnings of a file past the first
 * UNKNOWN_SYMBOLS_LISTED that carry no hint (no "did you mean"), which is what a full kernel
 * .config gives by the thousand (the model knows only this stack's symbols), are folded into one
 * warning per file naming how many and the first few. Warnings with a hint (likely typos) and
 * every other diagnostic are kept as they are, in order.
 */
export function foldUnknownSymbols(ds: readonly Diagnostic[]): Diagnostic[] {
  const plain = (d: Diagnostic) => d.severity === 'warning' && /^unknown symbol: \S+$/.test(d.message);
  const seen = new Map<string, number>();
  const folded = new Map<string, string[]>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    if (!plain(d)) {
      out.push(d);
      continue;
    }
    const file = d.file ?? '';
    const n = (seen.get(file) ?? 0) + 1;
    seen.set(file, n);
    if (n <= UNKNOWN_SYMBOLS_LISTED) out.push(d);
    else folded.set(file, [...(folded.get(file) ?? []), d.message.slice('unknown symbol: '.length)]);
  }
  for (const [file, names] of folded) {
    const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ', ...' : '');
    out.push({
      severity: 'warning',
      ...(file !== '' ? { file } : {}),
      message: `${names.length} more unknown symbol(s) not listed one by one: ${shown}`,
      detail: ['the model knows only the symbols of the IOMMU and GPU stack (gki config symbols); the lines are ignored'],
    });
  }
  return out;
}
