import { defineConfig } from 'vitest/config'

// End-to-end tests: real network namespaces, nftables, dnsmasq and Chromium. One file at a time.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
