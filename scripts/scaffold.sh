#!/usr/bin/env bash
# scaffold.sh DIR NAME "description" [dep ...]: create an empty workspace package with the
# project's standard files (exports map with the workspace-only `@gki/source` condition, tsup,
# vitest, tsconfig, LICENSE), then derives its publishing metadata (scripts/package-meta.mjs).
set -eu
dir=$1; name=$2; desc=$3; shift 3
mkdir -p "$dir/src" "$dir/test" "$dir/bench"
deps=""
for d in "$@"; do deps="$deps\"$d\": \"workspace:^\","; done
deps=${deps%,}
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "sideEffects": false,
  "exports": {
    ".": {
      "@gki/source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "import": "./dist/index.js",
      "default": "./dist/index.js"
    },
    "./package.json": "./package.json"
  },
  "files": ["dist"],
  "scripts": {
    "build": "tsup",
    "typecheck": "tsc --noEmit -p tsconfig.json",
    "test": "vitest run --reporter=default --reporter=json --outputFile.json=.vitest-report.json",
    "check:pkg": "publint --strict",
    "bench": "tsx --conditions=@gki/source bench/index.bench.ts"
  },
  "dependencies": { $deps },
  "engines": { "node": ">=20.19" },
  "publishConfig": { "access": "public" }
}
JSON
cat > "$dir/tsconfig.json" <<'JSON'
{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "noEmit": true, "rootDir": "." },
  "include": ["src", "test", "bench"]
}
JSON
cat > "$dir/tsup.config.ts" <<'TS'
import { packageBuild } from '../../tsup.base.js';

export default packageBuild();
TS
cat > "$dir/vitest.config.ts" <<'TS'
export { default } from '../../vitest.base.js';
TS
root=$(cd "$(dirname "$0")/.." && pwd)
cp "$root/LICENSE" "$dir/LICENSE"
node "$root/scripts/package-meta.mjs"
