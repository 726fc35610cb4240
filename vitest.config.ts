import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    // Both cores; and one module cache per worker rather than per file: every service is built
    // by a factory per test, so files share no state (none sets process.env or mocks a module),
    // and the suite takes half the time.
    maxWorkers: 2,
    isolate: false,
    // Only a guard against a hang: no test asserts a duration, and a test that starts real
    // processes may take many times its quiet time on a machine busy with other work.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
