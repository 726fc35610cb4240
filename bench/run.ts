/**
 * `npm run bench`: prints the figures each issue names. Each section lives in its own file and
 * is listed here; `npm run bench -- portal` runs only the sections whose name matches.
 */
export interface BenchSection {
  name: string
  run(): Promise<void>
}

const SECTIONS: Array<() => Promise<BenchSection>> = [
  async () => (await import('./portal.js')).default,
  async () => (await import('./sync.js')).default,
  async () => (await import('./visits.js')).default,
  async () => (await import('./sms.js')).default,
  async () => (await import('./gate.js')).default,
  async () => (await import('./console.js')).default,
  async () => (await import('./startup.js')).default,
  // Issues 19 and 16: DNS before and after login, forwarding, time to the splash and to the internet.
  async () => (await import('./guest-network.js')).default,
  // Issue 13: a scrape with 10,000 devices; what the instrumentation costs a login.
  async () => (await import('./metrics.js')).default,
]

const filter = process.argv.slice(2).filter((a) => !a.startsWith('-'))
for (const load of SECTIONS) {
  const section = await load()
  if (filter.length && !filter.some((f) => section.name.includes(f))) continue
  console.log(`\n## ${section.name}`)
  await section.run()
}
process.exit(0)
