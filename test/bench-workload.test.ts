// The benchmark's own logic that its figures depend on: job lists, the ceiling's
// split, option parsing. No timing is asserted anywhere.
import { describe, expect, it } from 'vitest';
import { parseOptions } from '../bench/options.js';
import { defaultCounts, parseScaleOptions } from '../bench/scale-options.js';
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

describe('bench:scale options', () => {
  it('defaults to 1, 2, 4, … up to the CPU count, the full CPU count included', () => {
    expect(defaultCounts(16)).toEqual([1, 2, 4, 8, 16]);
    expect(defaultCounts(12)).toEqual([1, 2, 4, 8, 12]);
    expect(defaultCounts(2)).toEqual([1, 2]);
    expect(defaultCounts(1)).toEqual([1]);
    const o = parseScaleOptions([], 16);
    expect(o).toMatchObject({ counts: [1, 2, 4, 8, 16], quick: false, full: true, fibN: 38, fibCutoff: 16 });
    expect(o.command).toBe('npm run bench:scale -- 1,2,4,8,16');
  });

  it('takes the list bare or as --workers, and only a run at the standard sizes is full', () => {
    expect(parseScaleOptions(['1,2,4,8,16'], 2)).toMatchObject({ counts: [1, 2, 4, 8, 16], full: true });
    expect(parseScaleOptions(['--workers', '1,2,4,8,16'], 2).counts).toEqual([1, 2, 4, 8, 16]);
    const quick = parseScaleOptions(['--quick', '1,2,3'], 2);
    expect(quick).toMatchObject({ counts: [1, 2, 3], quick: true, full: false });
    expect(quick.command).toBe('npm run bench:scale -- 1,2,3 --quick');
    const sized = parseScaleOptions(['--cpu-jobs', '800', '--rounds=7', '4'], 2);
    expect(sized).toMatchObject({ counts: [4], cpuJobs: 800, rounds: 7, full: false });
    expect(sized.command).toBe('npm run bench:scale -- 4 --cpu-jobs 800 --rounds 7');
  });

  it('rejects what it cannot run instead of running something else', () => {
    expect(() => parseScaleOptions(['1,x'], 2)).toThrow(/positive integer/);
    expect(() => parseScaleOptions(['--workers', '0'], 2)).toThrow(/positive integer/);
    expect(() => parseScaleOptions(['1,2', '4'], 2)).toThrow(/one worker list/);
  });
});
