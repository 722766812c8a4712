/**
 * fnmatch(3)-style matching (flags 0) as modprobe applies it to modules.alias patterns:
 * `*` any run of characters, `?` one character, `[abc]` / `[a-z]` / `[!x]` (or `[^x]`) a class,
 * `\x` a literal x. An unterminated `[` is a literal bracket.
 */

const cache = new Map<string, RegExp>();

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** True when `pattern` uses any wildcard (otherwise it only matches itself). */
export function isGlob(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

export function globToRegExp(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '\\' && i + 1 < pattern.length) {
      i++;
      re += escapeRe(pattern[i]!);
    } else if (c === '[') {
      // Find the closing bracket; a ']' right after '[' or '[!' belongs to the class.
      let j = i + 1;
      if (pattern[j] === '!' || pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      let negate = false;
      if (body[0] === '!' || body[0] === '^') {
        negate = true;
        body = body.slice(1);
      }
      // Keep '-' (ranges), escape what a RegExp class would otherwise interpret.
      const cls = body.replace(/[\\\]^[]/g, (m) => `\\${m}`);
      re += `[${negate ? '^' : ''}${cls}]`;
      i = j;
    } else {
      re += escapeRe(c);
    }
  }
  const out = new RegExp(`${re}$`);
  cache.set(pattern, out);
  return out;
}

/** fnmatch(pattern, s, 0) === 0 */
export function globMatch(pattern: string, s: string): boolean {
  if (!isGlob(pattern)) return pattern === s;
  return globToRegExp(pattern).test(s);
}
