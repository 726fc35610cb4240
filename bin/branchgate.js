#!/usr/bin/env node
// The `branchgate` command: plain JavaScript compiled from src/ into dist/ (npm run build).
import { cli } from '../dist/cli.js'

const code = await cli(process.argv.slice(2), process.env)
if (process.argv[2] !== 'serve') process.exit(code)
