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

/**
 * A malformed blob or device tree.
 *
 * For a blob, `offset` is the byte offset in the blob where the problem was found (always
 * within [0, blob length]). For problems found in an in-memory tree (a property of the wrong
 * length, a bad name given to the writer, an unknown label in the builder) `offset` is -1 and
 * `path` names the node (and property) concerned.
 */
export class FdtError extends Error {
  override readonly name = 'FdtError';
  constructor(
    readonly offset: number,
    readonly reason: string,
    readonly path?: string,
  ) {
    super(
      offset >= 0
        ? `malformed DTB at offset 0x${offset.toString(16)}: ${reason}`
        : `bad device tree${path ? ` at ${path}` : ''}: ${reason}`,
    );
  }
}
