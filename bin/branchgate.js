#!/usr/bin/env node
// The `branchgate` command: runs src/cli.ts through tsx (no build step).
import { register } from 'tsx/esm/api'
import { fileURLToPath } from 'node:url'

register()
const { cli } = await import(fileURLToPath(new URL('../src/cli.ts', import.meta.url)))
const code = await cli(process.argv.slice(2), process.env)
// serve keeps running: only exit for commands that finished, or a serve that could not start.
if (process.argv[2] !== 'serve' || code !== 0) process.exit(code)
