// The part of autocannon's API bench/servers.ts uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    p50: number;
    p99: number;
    average: number;
  }
  interface Result {
    latency: Histogram;
    requests: Histogram & { total: number };
    errors: number;
    non2xx: number;
    duration: number;
  }
  function autocannon(opts: { url: string; connections: number; duration: number; pipelining?: number }): Promise<Result>;
  export default autocannon;
}
