// mini-redis' RESP parser: any split of the bytes into chunks gives the same commands; limits hold before allocation.
import { describe, expect, it } from 'vitest';
import { ProtocolError, RespParser } from '../../examples/mini-redis/resp.js';

/** A small seeded generator (mulberry32): the same chunkings on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('RespParser', () => {
  it('parses the same commands however the bytes are split', () => {
    const rand = rng(11);
    for (let trial = 0; trial < 200; trial++) {
      const cmds: string[][] = [];
      let wire = '';
      for (let i = 0; i < 20; i++) {
        const args = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => {
          const n = Math.floor(rand() * (rand() < 0.2 ? 70_000 : 12));
          let a = '';
          for (let k = 0; k < n; k++) a += String.fromCharCode(Math.floor(rand() * 256));
          return a;
        });
        cmds.push(args);
        wire += `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
      }
      const buf = Buffer.from(wire, 'latin1');
      const p = new RespParser();
      const got: string[][] = [];
      for (let at = 0; at < buf.length; ) {
        const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 10 : 20_000));
        got.push(...p.push(buf.subarray(at, at + n)));
        at += n;
      }
      expect(got).toEqual(cmds);
    }
  });

  it('refuses lengths over the limits from the header alone', () => {
    const p = new RespParser({ maxBulk: 1024, maxArgs: 8, maxLine: 64 });
    expect(() => p.push(Buffer.from('*1\r\n$1025\r\n'))).toThrow(ProtocolError);
    expect(() => new RespParser({ maxBulk: 1024, maxArgs: 8, maxLine: 64 }).push(Buffer.from('*9\r\n'))).toThrow(/invalid multibulk length/);
    expect(() => new RespParser({ maxBulk: 1024, maxArgs: 8, maxLine: 64 }).push(Buffer.from('x'.repeat(65)))).toThrow(/too big inline request/);
    expect(() => new RespParser().push(Buffer.from('*1\r\n$3x\r\n'))).toThrow(/invalid length/);
  });

  it('reads inline commands', () => {
    expect(new RespParser().push(Buffer.from('PING\r\nSET a  b\n'))).toEqual([['PING'], ['SET', 'a', 'b']]);
  });
});
