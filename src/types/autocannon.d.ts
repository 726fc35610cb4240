// autocannon ships no types; the bench uses only this much of it.
declare module 'autocannon' {
  interface Result {
    requests: { average: number }
    latency: { p50: number; p99: number }
    non2xx: number
    errors: number
    timeouts: number
  }
  function autocannon(opts: {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
  }): Promise<Result>
  export default autocannon
}
