/**
 * The in-memory form of a flattened device tree (what a DTB decodes to).
 * Property values are raw big-endian bytes, exactly as in the blob; helpers in
 * this folder read them as cells, strings and phandles.
 */
export interface FdtProperty {
  readonly name: string;
  readonly value: Uint8Array;
}

export interface FdtNode {
  /** Node name with unit address ("iommu@2b400000"); the root is "". */
  readonly name: string;
  readonly props: FdtProperty[];
  readonly children: FdtNode[];
}

export interface FdtReservation {
  readonly address: number;
  readonly size: number;
}

export interface FdtTree {
  /** DTB header version read (17 when written by this package). */
  readonly version: number;
  readonly bootCpuid: number;
  readonly reservations: FdtReservation[];
  readonly root: FdtNode;
}

/** A malformed blob: `offset` is the byte offset in the blob where the problem was found. */
export class FdtError extends Error {
  override readonly name = 'FdtError';
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`malformed DTB at offset 0x${offset.toString(16)}: ${reason}`);
  }
}
