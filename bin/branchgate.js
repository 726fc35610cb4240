#!/usr/bin/env node
// The `branchgate` command: runs src/cli.ts through tsx (no build step).
import { register } from 'tsx/esm/api'
import { fileURLToPath } from 'node:url'

register()
const { cli } = await import(fileURLToPath(new URL('../src/cli.ts', import.meta.url)))
const code = await cli(process.argv.slice(2), process.env)
if (process.argv[2] !== 'serve') process.exit(code)
