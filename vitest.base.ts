import { defineProject } from 'vitest/config';

// The test setup every package shares. Workspace packages resolve to their sources through
// the `source` export condition, so tests never need a build of their dependencies.
export default defineProject({
  resolve: { conditions: ['@gki/source'] },
  ssr: { resolve: { conditions: ['@gki/source'] } },
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
