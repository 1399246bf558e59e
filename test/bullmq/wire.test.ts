// The spindle/bullmq wire format without Redis: what goes as plain JSON and
// what through the codec, version checks, and failures that keep the error.
import { describe, expect, it } from 'vitest';
import { ErrorCode, SpindleError } from '../../src/index.js';
import { checkJob, decodeArgs, decodeResult, encodeJob, encodeResult, failureReason, headlineOf, parseFailure, WIRE } from '../../src/bullmq/wire.js';
import { RenderError } from './errors.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** What a job's data looks like after BullMQ stored it (JSON) and the machine read it back. */
const viaJson = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

describe('spindle/bullmq wire format', () => {
  it('sends plain JSON data as JSON, and everything else through the codec, both exactly', () => {
    const plainArgs = [1, 'two', true, null, [1.5, { a: [] }], { nested: { deep: 'x' } }];
    const job = encodeJob('t', plainArgs);
    expect(job).toEqual({ v: WIRE, t: 't', j: plainArgs });
    expect(decodeArgs(viaJson(job))).toEqual(plainArgs);

    const rich = [undefined, NaN, -0, Infinity, new Date(5), new Map([[1, 'a']]), new Set([2]), new Uint8Array([1, 2]), 10n, { u: undefined }];
    const coded = encodeJob('t', rich);
    expect(coded.j).toBeUndefined();
    expect(typeof coded.a).toBe('string');
    const back = decodeArgs(viaJson(coded));
    expect(back[0]).toBeUndefined();
    expect(back[1]).toBeNaN();
    expect(Object.is(back[2], -0)).toBe(true);
    expect(back.slice(3)).toEqual(rich.slice(3));
    expect('u' in (back[9] as object)).toBe(true);

    expect(decodeResult(viaJson(encodeResult({ ok: [1, 2] })), '1')).toEqual({ ok: [1, 2] });
    expect(decodeResult(viaJson(encodeResult(undefined)), '1')).toBeUndefined();
    expect(decodeResult(viaJson(encodeResult(new Map([['k', -0]]))), '1')).toEqual(new Map([['k', -0]]));
  });

  it('refuses what cannot be sent, naming where it is', () => {
    expect(() => encodeJob('t', [1, { cb: () => 1 }])).toThrow(/argument 2 \(at \.cb\) is a function/);
    expect(() => encodeJob('t', [new SharedArrayBuffer(4)])).toThrow(/argument 1 is a SharedArrayBuffer, which is memory of this process/);
    const e = thrown(() => encodeJob('t', [new (class Point {})()]));
    expect(e).toBeInstanceOf(TypeError);
    expect((e as { code?: string }).code).toBe(ErrorCode.NOT_SENDABLE);
    expect((e as Error).message).toMatch(/argument 1 is an instance of Point, which cannot be sent to another machine/);
  });

  it('says clearly when a job or result comes from an incompatible version', () => {
    expect(checkJob({ v: 2, t: 't', j: [] })).toMatch(/wire format 2, and this machine reads format 1/);
    expect(checkJob({ t: 't', j: [] })).toMatch(/no spindle\/bullmq wire format version/);
    expect(checkJob('x')).toMatch(/not an object/);
    expect(checkJob({ v: WIRE, t: 't', j: [] })).toBeUndefined();
    const e = thrown(() => decodeResult({ v: 7, j: 1 }, '42'));
    expect(e).toBeInstanceOf(SpindleError);
    expect((e as SpindleError).code).toBe(ErrorCode.INCOMPATIBLE_PAYLOAD);
    expect((e as Error).message).toMatch(/return value of job 42 .*format 7, this producer reads 1/);
    expect(() => parseFailure('boom\n[spindle/bullmq:9:AAAA]', '42')).toThrow(/wire format 9/);
  });

  it('carries a panic whole in a failure reason: class, message, stack, cause, fields', () => {
    const err = new RenderError('no layout', 'E_LAYOUT', { page: 2, tags: ['x'] }, { cause: new RangeError('bad page') });
    const reason = failureReason('panic', 'm1', 'RenderError: no layout', err);
    expect(headlineOf(reason)).toBe('RenderError: no layout');
    const f = parseFailure(reason, '1')!;
    expect(f.kind).toBe('panic');
    expect(f.machine).toBe('m1');
    const p = f.error as RenderError;
    expect(p).toBeInstanceOf(RenderError);
    expect(p).toMatchObject({ name: 'RenderError', message: 'no layout', code: 'E_LAYOUT', details: { page: 2, tags: ['x'] } });
    expect(p.stack).toBe(err.stack);
    expect(p.cause).toBeInstanceOf(RangeError);
    expect(parseFailure('job stalled more than allowable limit', '1')).toBeUndefined();
    // What cannot be encoded still comes back as an error with its text.
    const odd = parseFailure(failureReason('panic', 'm1', 'odd', new (class Weird {})()), '1')!;
    expect(odd.error).toBeInstanceOf(Error);
  });

  it('is importable as spindle/bullmq (the package export)', async () => {
    const m = await import('spindle/bullmq');
    expect(typeof m.bullRuntime).toBe('function');
    expect(typeof m.serveQueue).toBe('function');
  });
});
