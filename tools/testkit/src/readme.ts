import { rmSync, writeFileSync } from 'node:fs';

/**
 * Runs the first ```ts block under a README's "## Example" heading as a module (written beside
 * the test as a temporary file, removed afterwards) and returns its source and every line it
 * printed with console.log. The caller asserts what the example's comments promise.
 */
export async function runReadmeExample(readme: string, tmp: URL): Promise<{ code: string; lines: string[] }> {
  const m = /## Example\n\n```ts\n([\s\S]*?)```/.exec(readme);
  if (m === null) throw new Error('README has no "## Example" section with a ```ts block');
  const code = m[1]!;
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  writeFileSync(tmp, code);
  try {
    await import(/* @vite-ignore */ tmp.href);
  } finally {
    console.log = log;
    rmSync(tmp, { force: true });
  }
  return { code, lines };
}

/** The expected output a README example writes after `// ` on each console.log line, in order. */
export function expectedFromComments(code: string): string[] {
  return code
    .split('\n')
    .filter((l) => l.includes('console.log('))
    .map((l) => l.slice(l.lastIndexOf('// ') + 3).trim());
}
