import { quote, type ResolvedConfig } from './resolve.js';

/**
 * The resolved configuration in the kernel's .config format: the generated-file header, a
 * section per menu, nested as the menus are (`#\n# Menu\n#` ... `# end of Menu`),
 * `CONFIG_X=y|m`, `# CONFIG_X is not set`, strings quoted with `\"` and `\\` escaped, ints as
 * written. Unlike Kconfig, which leaves out promptless symbols that resolve to n, every
 * bool/tristate symbol of the model is listed, so the file shows the whole modelled stack; a
 * string or int whose dependencies are not met has no line, as in Kconfig. The file reads back through `--config` to the same
 * configuration.
 */
export function writeDotConfig(config: ResolvedConfig): string {
  const out = ['#', '# Automatically generated file; DO NOT EDIT.', `# Linux/arm64 Kernel Configuration (gki model, ${config.rules.name} rules)`, '#'];
  let open: string[] = [];
  const enter = (path: string[]) => {
    let common = 0;
    while (common < open.length && common < path.length && open[common] === path[common]) common++;
    while (open.length > common) out.push(`# end of ${open.pop()}`);
    for (const m of path.slice(common)) {
      out.push('', '#', `# ${m}`, '#');
      open.push(m);
    }
  };
  for (const r of config.symbols.values()) {
    enter(r.sym.menu === '' ? [] : r.sym.menu.split('/'));
    const n = `CONFIG_${r.sym.name}`;
    switch (r.sym.type) {
      case 'bool':
      case 'tristate':
        out.push(r.value === 'n' ? `# ${n} is not set` : `${n}=${r.value}`);
        break;
      case 'string':
        if (r.origin !== 'none') out.push(`${n}=${quote(r.value)}`);
        break;
      default:
        if (r.origin !== 'none') out.push(`${n}=${r.value}`);
    }
  }
  enter([]);
  return out.join('\n') + '\n';
}
