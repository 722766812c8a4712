/**
 * Diagnostics of the DTS compiler. Every problem is reported against a place in a source file
 * (1-based line and column, counted in bytes as dtc and cpp count them), after following
 * `#include` and macro expansion back to where the text came from.
 */

/** A place in a source file. */
export interface DtsSourcePos {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A non-fatal finding (an unknown `<dt-bindings/...>` header, a truncated cell value, ...). */
export interface DtsWarning extends DtsSourcePos {
  readonly message: string;
}

/**
 * A DTS source the compiler cannot turn into a tree: a syntax error, an unknown label or
 * macro, a missing include, a tree dtc would refuse (duplicate node names or labels, ...).
 * `file`, `line` and `column` name the place; `reason` says what is wrong there.
 */
export class DtsError extends Error {
  override readonly name = 'DtsError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(
    pos: DtsSourcePos,
    readonly reason: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.column}: ${reason}`);
    this.file = pos.file;
    this.line = pos.line;
    this.column = pos.column;
  }
}

export function formatPos(p: DtsSourcePos): string {
  return `${p.file}:${p.line}:${p.column}`;
}
