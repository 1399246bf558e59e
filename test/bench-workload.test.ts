// The benchmark's own logic that its figures depend on: job lists, the ceiling's
// split, option parsing. No timing is asserted anywhere.
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../bench/options.js';
import { partition } from '../bench/peers/static-split.js';
import { fib } from '../bench/tasks.js';
import { fibValue, forkJoinTasks, skewedJobs, uniformJobs } from '../bench/workload.js';

describe('bench workload', () => {
  it('makes exactly 1 % of the skewed jobs 50× longer, at the same places every time', () => {
    const jobs = skewedJobs(2000, 10);
    expect(jobs.filter((j) => j === 500)).toHaveLength(20);
    expect(jobs.filter((j) => j === 10)).toHaveLength(1980);
    expect(skewedJobs(2000, 10)).toEqual(jobs);
  });

  it('counts the fork-join tasks and knows fib without recursion', () => {
    expect(forkJoinTasks(40, 16)).toBe(121_393);
    expect(forkJoinTasks(10, 16)).toBe(1);
    expect(fibValue(25)).toBe(fib(25));
  });

  it('splits the ceiling batch into equal loads, longest job first', () => {
    const parts = partition([...uniformJobs(6, 1), 4], 2);
    expect(parts.map((p) => p.reduce((a, b) => a + b, 0))).toEqual([5, 5]);
    expect(parts[0]![0]).toBe(4);
  });
});

describe('bench options', () => {
  it('defaults to every scenario and peer on 2 workers, and prints the command back', () => {
    const o = parseOptions([], {});
    expect(o.workers).toBe(2);
    expect(o.scenarios).toEqual(['tiny', 'latency', 'cpu', 'skewed', 'fib', 'bulk', 'rss']);
    expect(o.adapters[0]).toBe('spindle');
    expect(o.adapters.at(-1)).toBe('one-thread');
    expect(o.command).toBe('npm run bench -- --workers 2');
  });

  it('reads argv and the environment', () => {
    const o = parseOptions(['--only', 'tiny,rss', '--peers=piscina', '--quick'], { BENCH_WORKERS: '4' });
    expect(o).toMatchObject({ workers: 4, scenarios: ['tiny', 'rss'], adapters: ['spindle', 'piscina', 'one-thread'], quick: true });
    expect(o.command).toBe('npm run bench -- --workers 4 --only tiny,rss --peers piscina --quick');
  });

  it('rejects unknown names instead of running less than asked', () => {
    expect(() => parseOptions(['--only', 'tiny,nope'], {})).toThrow(/unknown scenario 'nope'/);
    expect(() => parseOptions(['--peers', 'bullmq'], {})).toThrow(/unknown peer 'bullmq'/);
  });
});
