// The codec's decoder hands back cached strings for short keys and repeated
// short values (Decoder.key), and its encoder lists an object's own keys with
// for-in. These tests aim at what a cache or a for-in could get wrong:
// strings that share length and sampled bytes, keys that repeat across many
// objects, long and non-Latin-1 keys, and inherited enumerable keys.
import { afterEach, describe, expect, it } from 'vitest';
import { Decoder, Encoder } from '../../src/shared/codec.js';
import { inspect, isDeepStrictEqual } from 'node:util';
import { STRESS, thrownBy } from '../helpers.js';
import { Arc, HandleStateError } from '../../src/index.js';

const enc = new Encoder(null);
const dec = new Decoder(null);
const roundTrip = <T>(v: T): T => {
  enc.encodeValue(v, 'the value');
  const bytes = enc.buf.slice(0, enc.pos);
  return dec.decodeValue(bytes, new DataView(bytes.buffer), 0) as T;
};

describe('codec: cached short strings', () => {
  it('tells apart strings with the same length and the same first, middle and last bytes', () => {
    // Same signature (length, bytes 0, n/2 and n-1), different contents: each must come back as itself.
    const keys = ['aXcZb', 'aYcWb', 'aQcQb', 'a0c1b'];
    for (let round = 0; round < 3; round++) {
      for (const k of keys) {
        const o = roundTrip({ [k]: k, same: k });
        expect(Object.keys(o)).toEqual([k, 'same']);
        expect(o[k]).toBe(k);
        expect(o.same).toBe(k);
      }
    }
  });

  it('decodes 10,000 objects of varied keys and values exactly', () => {
    const rnd = (i: number): string => `k${(i * 2654435761) % 97}${'xyz'[i % 3]}`;
    for (let i = 0; i < 10_000; i++) {
      const v = { [rnd(i)]: rnd(i + 1), [rnd(i + 7)]: i, name: 'item', tags: ['a', rnd(i + 3)] };
      expect(roundTrip(v)).toEqual(v);
    }
  });

  it('keeps empty, long, and non-Latin-1 keys and values', () => {
    const long = 'k'.repeat(40);
    const v = { '': '', [long]: long, clé: 'é', 日本: '語', mixed: 'aé日' };
    for (let i = 0; i < 3; i++) expect(roundTrip(v)).toEqual(v);
  });
});

describe('codec: own keys only', () => {
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  });

  it('an enumerable key on Object.prototype is not sent (as Object.keys would not list it)', () => {
    Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true, writable: true });
    const back = roundTrip({ a: 1, b: { c: 2 } });
    delete (Object.prototype as Record<string, unknown>)['polluted'];
    expect(Object.keys(back)).toEqual(['a', 'b']);
    expect(Object.keys(back.b)).toEqual(['c']);
  });

  it('an own key named __proto__ stays an own key: it does not become the prototype', () => {
    const v = JSON.parse('{"__proto__": {"isAdmin": true}, "name": "x", "nested": {"__proto__": [1, 2]}}') as Record<string, unknown>;
    const back = roundTrip(v) as Record<string, unknown> & { isAdmin?: boolean; nested: Record<string, unknown> };
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back.isAdmin).toBeUndefined();
    expect(Object.keys(back)).toEqual(['__proto__', 'name', 'nested']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ isAdmin: true });
    expect(Object.getPrototypeOf(back.nested)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back.nested, '__proto__')?.value).toEqual([1, 2]);
    // An error's own fields likewise.
    const e = Object.defineProperty(new Error('x'), '__proto__', { value: { code: 'FAKE' }, enumerable: true, writable: true, configurable: true });
    const eb = roundTrip(e) as Error & { code?: string };
    expect(eb).toBeInstanceOf(Error);
    expect(eb.code).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(eb, '__proto__')?.value).toEqual({ code: 'FAKE' });
  });

  it('a sparse array keeps its holes (missing, not undefined), as structuredClone does', () => {
    // eslint-disable-next-line no-sparse-arrays
    const cases: unknown[][] = [[1, , 3], new Array(5), [undefined, , undefined], [, 'a', , { b: [, 2] }]];
    const trailing = [1, 2];
    trailing.length = 4;
    cases.push(trailing);
    for (const v of cases) {
      const back = roundTrip(v);
      expect(back).toHaveLength(v.length);
      expect(Object.keys(back)).toEqual(Object.keys(v));
      expect(back).toStrictEqual(structuredClone(v));
    }
    const back = roundTrip([undefined, , undefined]);
    expect([0 in back, 1 in back, 2 in back]).toEqual([true, false, true]);
  });

  it('keeps key order, including integer-like keys, and a null-prototype object', () => {
    const v = { z: 1, 2: 'two', a: 3, 1: 'one' };
    expect(Object.keys(roundTrip(v))).toEqual(Object.keys(v));
    const bare = Object.assign(Object.create(null) as Record<string, number>, { x: 1, y: 2 });
    expect({ ...roundTrip(bare) }).toEqual({ x: 1, y: 2 });
  });
});

// The decoder numbers the containers of one decode for back-references (cycles, T_REF) in a
// table it reuses between decodes: counted, cleared at the next decode, dropped when large.
describe('codec: the back-reference table', () => {
  const cyclic = (n: number): { items: { i: number; root?: unknown }[]; self?: unknown } => {
    const root: { items: { i: number; root?: unknown }[]; self?: unknown } = { items: [] };
    for (let i = 0; i < n; i++) root.items.push({ i, root });
    root.self = root;
    return root;
  };
  const check = (back: ReturnType<typeof cyclic>, n: number): void => {
    expect(back.self).toBe(back);
    expect(back.items).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      expect(back.items[i]!.i).toBe(i);
      expect(back.items[i]!.root).toBe(back);
    }
  };

  it('resolves cycles in consecutive decodes, each numbering its containers from the start', () => {
    for (const n of [0, 1, 3, 1500, 2, 1500, 5]) check(roundTrip(cyclic(n)), n);
  });

  it('a reference past the containers decoded so far is an error, also right after a decode with more', () => {
    check(roundTrip(cyclic(10)), 10); // its table entries must not serve the bad reference below
    enc.encodeValue([[1]], 'the value');
    const bytes = enc.buf.slice(0, enc.pos);
    // [[1]] is T_ARRAY 1 (T_ARRAY 1 (T_INT 1)): point the inner array at container 5 instead.
    const T_REF = 21;
    const bad = Uint8Array.from([...bytes.subarray(0, 5), T_REF, 5, 0, 0, 0]);
    expect(() => dec.decodeValue(bad, new DataView(bad.buffer), 0)).toThrow(/corrupt encoded value \(tag 21 at byte 5\)/);
  });
});

// Strings past a few characters are copied by Node's Buffer codecs (latin1, utf16le) rather than
// a loop: every length around the switch-over, every kind of character, must come back as itself.
describe('codec: strings of every length and kind', () => {
  const kinds: [string, (i: number) => string][] = [
    ['ASCII', (i) => String.fromCharCode(97 + (i % 26))],
    ['Latin-1 above 0x7f, C1 controls included', (i) => String.fromCharCode(0x80 + (i % 128))],
    ['the whole Latin-1 range, NUL included', (i) => String.fromCharCode(i % 256)],
    ['not Latin-1 (CJK after ASCII)', (i) => (i === 0 ? 'a' : '日本語'[i % 3]!)],
    ['surrogate pairs', (i) => (i % 2 === 0 ? '\u{1F600}' : 'x')],
    ['lone surrogates', (i) => (i % 3 === 0 ? '\uD800' : i % 3 === 1 ? 'b' : '\uDFFF')],
  ];
  const lengths = [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 100, 255, 256, 257, 1000, 5000];

  for (const [kind, char] of kinds) {
    it(`${kind}: lengths 0 to 5,000 as values, keys and array items`, () => {
      for (const n of lengths) {
        let s = '';
        while (s.length < n) s += char(s.length);
        s = s.slice(0, n);
        expect(roundTrip(s)).toBe(s);
        expect(roundTrip([s, 1, s])).toEqual([s, 1, s]);
        const o = roundTrip({ [s]: s, after: 'x' });
        expect(Object.keys(o)).toEqual(Object.keys({ [s]: s, after: 'x' }));
        expect(o[s]).toBe(s);
      }
    });
  }

  it('a long string decodes from shared memory at any offset (the channel path)', () => {
    const s = 'é'.repeat(300) + 'z';
    const t = '日'.repeat(300);
    enc.encodeValue([s, t], 'the value');
    const n = enc.pos;
    for (const at of [0, 1, 2, 3, 7]) {
      const sab = new SharedArrayBuffer(n + 16);
      const u8 = new Uint8Array(sab);
      u8.set(enc.buf.subarray(0, n), at);
      expect(dec.decodeValue(u8, new DataView(sab), at)).toEqual([s, t]);
    }
  });
});

// An error is rebuilt without a stack trace of its own (the sent one replaces it): it keeps its
// class, message, stack, cause and fields, and the process's Error.stackTraceLimit is untouched.
describe('codec: errors', () => {
  it('built-in classes keep class, message, stack, cause and fields', () => {
    const limit = Error.stackTraceLimit;
    const cause = new RangeError('inner');
    const e = Object.assign(new TypeError('outer', { cause }), { code: 'E_X', n: 2 });
    const back = roundTrip(e);
    expect(back).toBeInstanceOf(TypeError);
    expect(back.message).toBe('outer');
    expect(back.stack).toBe(e.stack);
    expect(back.cause).toBeInstanceOf(RangeError);
    expect((back.cause as Error).stack).toBe(cause.stack);
    expect({ code: back.code, n: back.n }).toEqual({ code: 'E_X', n: 2 });
    // stack and cause are own, non-enumerable and writable, as on the original.
    expect(Object.keys(back)).toEqual(['code', 'n']);
    for (const k of ['stack', 'cause']) {
      const d = Object.getOwnPropertyDescriptor(back, k)!;
      expect(d, k).toBeDefined();
      expect(d.enumerable, k).toBe(false);
    }
    back.stack = 'rewritten';
    expect(back.stack).toBe('rewritten');
    const agg = roundTrip(new AggregateError([new Error('a')], 'many'));
    expect(agg).toBeInstanceOf(AggregateError);
    expect(agg.errors[0]).toBeInstanceOf(Error);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('an error sent without a stack comes back with none of the decoder\'s frames', () => {
    const e = new Error('bare');
    delete (e as { stack?: string }).stack;
    const back = roundTrip(e);
    expect(back.message).toBe('bare');
    expect(String(back.stack)).not.toMatch(/codec|decode/i);
  });
});

// Differential: random values of every kind the codec copies, against structuredClone's copy
// (the semantics a value crossing threads should have). Seeded, so a failure names a value
// that reproduces. Left out: what the codec keeps on purpose where structuredClone does not (an
// error's own fields, a Buffer's class; errors are checked above) and what cannot cross.
describe('codec: against structuredClone', () => {
  it(`${STRESS ? '100,000' : '3,000'} random values come back as structuredClone copies them`, () => {
    let seed = 12345;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const chars = ['a', 'Z', '0', ' ', 'é', 'ÿ', '\u0080', '\u0000', '日', '\u{1F600}', '\uD800', '\uDFFF', '"', '\n'];
    const str = (): string => {
      let s = '';
      for (let i = pick([0, 1, 3, 10, 17, 40, 49, 70, 300]); i > 0; i--) s += pick(chars);
      return s;
    };
    const num = (): number => pick([0, -0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, 1.5, NaN, Infinity, -Infinity, 1e-300, Number.MIN_VALUE]);
    const key = (): string => pick(['a', 'b', 'name', '__proto__', 'constructor', 'toString', '0', '1', '10', '-1', '01', '1.5', '', str()]);
    const val = (d: number): unknown => {
      switch (Math.floor(rnd() * (d > 3 ? 5 : 12))) {
        case 0:
        case 1:
          return num();
        case 2:
          return str();
        case 3:
          return pick([true, false, null, undefined]);
        case 4:
          return BigInt(Math.floor(rnd() * 1e6)) * pick([1n, -1n, 10n ** 20n]);
        case 5:
          return new Date(pick([0, 1.7e12, -1]));
        case 6: {
          const a: unknown[] = [];
          for (let i = pick([0, 1, 3, 8]); i > 0; i--) a.push(val(d + 1));
          if (rnd() < 0.2) a.length += 2; // holes
          return a;
        }
        case 7:
        case 8: {
          const o: Record<string, unknown> = {};
          for (let i = pick([0, 1, 3, 6]); i > 0; i--) Object.defineProperty(o, key(), { value: val(d + 1), enumerable: true, writable: true, configurable: true });
          return o;
        }
        case 9: {
          const m = new Map<unknown, unknown>();
          for (let i = pick([0, 2, 4]); i > 0; i--) m.set(pick([str(), num(), val(d + 1)]), val(d + 1));
          return m;
        }
        case 10: {
          const s = new Set<unknown>();
          for (let i = pick([0, 2, 4]); i > 0; i--) s.add(pick([str(), num(), val(d + 1)]));
          return s;
        }
        default:
          return pick([new Uint8Array([1, 2, 255]), new Int16Array([-1, 2]), new Float64Array([NaN, -0, 1.5]), new BigInt64Array([-5n]), new ArrayBuffer(5), new DataView(new ArrayBuffer(4))]);
      }
    };
    for (let i = 0, n = STRESS ? 100_000 : 3_000; i < n; i++) {
      const at = seed;
      const v = val(0);
      const back = roundTrip(v);
      const copy = structuredClone(v);
      // node:util's strict deep equality (prototypes, holes, -0 and NaN): vitest's would compare an
      // own key named 'constructor' as the objects' classes.
      if (!isDeepStrictEqual(back, copy)) expect.fail(`value ${i} (seed ${at}) differs from its structuredClone copy:\n${inspect(copy, { depth: 6 })}\n${inspect(back, { depth: 6 })}`);
    }
  });
});

describe('codec: values nested too deeply', () => {
  const nested = (depth: number): unknown[] => {
    let a: unknown[] = [];
    for (let i = 0; i < depth; i++) a = [a];
    return a;
  };
  const code = (e: unknown): unknown => (e as { code?: unknown }).code;

  it('a value deeper than the stack is a RangeError naming it, at the call site; the encoder goes on working', () => {
    const e = thrownBy(() => enc.encodeArgs([1, nested(1_000_000)])) as RangeError;
    expect(e).toBeInstanceOf(RangeError);
    expect(code(e)).toBe('ERR_SPINDLE_NOT_SENDABLE');
    expect(e.message).toMatch(/^spindle: argument 2 is nested too deeply to cross threads \(Maximum call stack size exceeded\)/);
    expect(e.cause).toBeInstanceOf(RangeError);
    const o = { x: 1 };
    expect(roundTrip([o, o, nested(50)])).toEqual([o, o, nested(50)]);
  });

  it('an encoding deeper than the decoding thread\'s stack is a RangeError saying so; the decoder goes on working', () => {
    // Each level of [[…]] is the same prefix: repeat it a million times around the innermost [].
    enc.encodeValue(nested(1), 'v');
    const one = enc.buf.slice(0, enc.pos);
    enc.encodeValue(nested(2), 'v');
    const two = enc.buf.slice(0, enc.pos);
    const prefix = two.subarray(0, two.length - one.length);
    expect([...two.subarray(prefix.length)]).toEqual([...one]);
    const depth = 1_000_000;
    const bytes = new Uint8Array(prefix.length * depth + one.length);
    for (let i = 0; i < depth; i++) bytes.set(prefix, i * prefix.length);
    bytes.set(one, prefix.length * depth);
    const e = thrownBy(() => dec.decodeValue(bytes, new DataView(bytes.buffer), 0)) as RangeError;
    expect(e).toBeInstanceOf(RangeError);
    expect(code(e)).toBe('ERR_SPINDLE_NOT_SENDABLE');
    expect(e.message).toMatch(/^spindle: a value received from another thread is nested too deeply to decode on this one/);
    expect(roundTrip({ a: [1, 'two'], b: nested(10) })).toEqual({ a: [1, 'two'], b: nested(10) });
  });

  it('any other error passes through as it is', () => {
    const e = thrownBy(() => enc.encodeArgs([() => 1])) as TypeError;
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/argument 1 is a function/);
  });
});

describe('codec: handles that move', () => {
  it('every handle in a value moves once the encode succeeds; one met twice, or a value that fails, moves none', () => {
    const enc2 = new Encoder(null);
    const arcs = Array.from({ length: 5 }, (_, i) => Arc.new(i));
    enc2.encodeValue({ all: arcs }, 'the value');
    for (const a of arcs) expect(() => a.get()).toThrow(HandleStateError); // moved

    const a = Arc.new('a');
    const b = Arc.new('b');
    const twice = thrownBy(() => enc2.encodeValue([a, { again: a }], 'the value')) as TypeError;
    expect(twice).toBeInstanceOf(TypeError);
    expect(twice.message).toMatch(/already passed once in this spawn: it can only move once/);
    expect(a.get()).toBe('a'); // nothing moved
    const bad = thrownBy(() => enc2.encodeValue([b, () => 1], 'the value'));
    expect(bad).toBeInstanceOf(TypeError);
    expect(b.get()).toBe('b');
    // The next value that moves a handle moves only its own, not those the failed ones met.
    const c = Arc.new('c');
    enc2.encodeValue([c], 'the value');
    expect(() => c.get()).toThrow(HandleStateError);
    expect(a.get()).toBe('a');
    expect(b.get()).toBe('b');
    a.drop();
    b.drop();
  });
});
