// autocannon ships no types; the bench uses only this much of it.
declare module 'autocannon' {
  export interface Result {
    requests: { average: number; total: number }
    latency: { p50: number; p99: number }
    non2xx: number
    errors: number
    timeouts: number
    /** Answers by status class. */
    '3xx': number
  }
  function autocannon(opts: {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    headers?: Record<string, string>
  }): Promise<Result>
  export default autocannon
}
