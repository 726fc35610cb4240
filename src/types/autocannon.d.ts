// autocannon ships no types; the bench uses only this much of it.
declare module 'autocannon' {
  interface Result {
    requests: { average: number }
    non2xx: number
    errors: number
  }
  function autocannon(opts: {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
  }): Promise<Result>
  export default autocannon
}
