/**
 * A trimmed kernel tree includes headers the project does not ship; the CLI folds the uses of
 * their macros into one line (with --debug listing each), so the real findings stay readable.
 */
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileDtsFile } from '@gki/hw';
import { loadBoard } from '../src/runtime/inputs.js';

const boards = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', 'boards');

describe('DTS warnings as the CLI prints them', () => {
  it('folds the uses of missing-header macros into one line that counts them', () => {
    const file = join(boards, 'qcom', 'sm8250-mtp.dts');
    const r = compileDtsFile(file, { includeDirs: [dirname(file)] });
    expect(r.undefinedMacros.length).toBeGreaterThan(10);
    const b = loadBoard(file);
    expect(b.allWarnings).toHaveLength(r.warnings.length);
    const macros = new Set(r.undefinedMacros.map((u) => u.name));
    const folded = b.warnings.filter((w) => w.includes('macro(s) from those headers'));
    expect(folded).toHaveLength(1);
    expect(folded[0]!.startsWith(`warning: ${r.undefinedMacros.length} use(s) of ${macros.size} macro(s)`)).toBe(true);
    const headers = new Set(r.missingHeaders.map((h) => h.header));
    expect(b.warnings.some((w) => w.startsWith(`warning: ${headers.size} included header(s) not found`))).toBe(true);
    // every other finding is still printed on its own line
    const other = r.warnings.length - r.undefinedMacros.length - r.missingHeaders.length;
    expect(b.warnings).toHaveLength(other + 2);
  });

  it('prints nothing to fold for a tree whose headers all exist', () => {
    const b = loadBoard(join(boards, 'gki-virt.dts'));
    expect(b.warnings).toEqual(b.allWarnings);
  });
});
