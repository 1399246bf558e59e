/**
 * What a value costs to cross threads in spindle's codec (src/shared/codec.ts):
 * the encode on the sending thread and the decode on the receiving one, per
 * value, for the kinds tasks and channels carry, with Node's own way beside
 * them in the same run: `structuredClone`, the copy `postMessage` makes of a
 * value (V8's serializer; `v8.serialize` is the same with a Buffer per call,
 * slower, and its external memory triggers full collections that land in the
 * other rows' time, so it is left out).
 *
 *   npm run bench:codec
 *   SPINDLE_BENCH_ONLY=object npm run bench:codec   (rows whose name has the substring)
 *
 * One thread, no shared memory traffic: the floor under every spawn argument,
 * task result and channel message. The decode reads a private copy of the
 * encoding, as a receiver reads a slot. Rounds interleave every row and
 * implementation; the figure is the median ns per value [min–max], garbage
 * collection included (each batch makes enough garbage to pay for its own).
 */
import { availableParallelism, loadavg } from 'node:os';
import { Decoder, Encoder } from '../src/shared/codec.js';
import { median } from './measure.js';

const ROUNDS = Number(process.env['SPINDLE_BENCH_ROUNDS'] ?? 9);
const ONLY = process.env['SPINDLE_BENCH_ONLY'];
/** Values per timed batch (a batch is timed as a whole; the figure divides by this). */
const BATCH = 20_000;

const small = (i: number): { id: number; name: string; tags: string[]; score: number } => ({ id: i, name: 'item', tags: ['a', 'b'], score: i / 2 });

const ROWS: [name: string, value: unknown][] = [
  ['a number', 42],
  ['a short string', 'message 12'],
  ['a 1,000-character string', 'x'.repeat(1000)],
  ['a small object {id, name, tags, score}', small(7)],
  ['16 numbers in an array', Array.from({ length: 16 }, (_, i) => i * 3)],
  ['a nested object, 4 levels', { a: { b: { c: [1, { d: 2, e: 'three' }] } }, f: null }],
  ['100 small objects in an array', Array.from({ length: 100 }, (_, i) => small(i))],
  ['an Error with a cause and a code (a panic)', Object.assign(new TypeError('bad input', { cause: new RangeError('out of range') }), { code: 'E_BAD' })],
  ['a Map of 10 entries', new Map(Array.from({ length: 10 }, (_, i) => [i, `v${i}`]))],
];

const enc = new Encoder(null);
const dec = new Decoder(null);
let sink: unknown;

/** ns per call of `f`, over BATCH / scale calls. */
function time(f: () => void, scale: number): number {
  const n = Math.max(100, Math.floor(BATCH / scale));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return Number(process.hrtime.bigint() - t0) / n;
}

interface Row {
  name: string;
  bytes: number;
  /** Values per timed batch are BATCH / scale: big values take fewer calls. */
  scale: number;
  encode: number[];
  decode: number[];
  clone: number[];
  /** Each timed operation and the figures it adds to. */
  ops: [number[], () => void][];
}

const rows: Row[] = [];
for (const [name, value] of ROWS) {
  if (ONLY !== undefined && !name.includes(ONLY)) continue;
  enc.encodeValue(value, 'the value');
  const bytes = enc.buf.slice(0, enc.pos);
  const view = new DataView(bytes.buffer);
  const r: Row = { name, bytes: bytes.length, scale: Math.max(1, bytes.length / 64), encode: [], decode: [], clone: [], ops: [] };
  r.ops = [
    [r.encode, () => enc.encodeValue(value, 'the value')],
    [r.decode, () => (sink = dec.decodeValue(bytes, view, 0))],
    [r.clone, () => (sink = structuredClone(value))],
  ];
  rows.push(r);
  // Warm-up: every path reaches the optimizing tier before anything is timed.
  for (const [, f] of r.ops) for (let i = 0; i < 20; i++) time(f, r.scale * 4);
}

for (let round = 0; round < ROUNDS; round++) {
  for (const r of rows) for (const [out, f] of r.ops) out.push(time(f, r.scale));
}
if (sink === Symbol.for('never')) console.log(sink);

const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
console.log('# Codec: ns per value, one thread\n');
console.log(`Node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(2)} at the end; median of ${ROUNDS} interleaved rounds [min–max].`);
console.log('Reproduce: `npm run bench:codec`\n');
console.log('| value | bytes | spindle encode | spindle decode | spindle both | `structuredClone` | structuredClone ÷ spindle both |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const both = median(r.encode) + median(r.decode);
  console.log(`| ${r.name} | ${r.bytes} | ${fmt(r.encode)} | ${fmt(r.decode)} | ${both.toFixed(0)} | ${fmt(r.clone)} | ${(median(r.clone) / both).toFixed(1)}× |`);
}
console.log('\nspindle both: the two medians added (a value is encoded on one thread and decoded on another). `structuredClone` serializes and deserializes within one thread, as `postMessage` does on its two sides.');
