import { defineConfig } from 'vitest/config';

/** End-to-end tests: real Caddy and nginx in front of ipgate (`npm run test:e2e`). */
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    fileParallelism: false,
  },
});
