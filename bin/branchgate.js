#!/usr/bin/env node
// The `branchgate` command: plain JavaScript bundled from src/ into dist/ (npm run build).
import { cli } from '../dist/cli.js'

const code = await cli(process.argv.slice(2), process.env)
// serve keeps running: exit only when a command finished, or serve could not start.
if (process.argv[2] !== 'serve' || code !== 0) process.exit(code)
