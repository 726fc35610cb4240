import section from './tmp-prof-visits.js'
await section.run()
