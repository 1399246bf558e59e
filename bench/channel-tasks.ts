// Tasks for bench/channels.ts (workers import this module).
import { task, type mpsc } from '../src/index.js';
import { makeValue, type ValueKind } from './channel-values.js';

export const benchEcho = task(import.meta.url, function benchEcho(x: number): number {
  return x;
});

export const benchProduce = task(import.meta.url, async function benchProduce(tx: mpsc.Sender<unknown>, kind: ValueKind, n: number): Promise<void> {
  // n: every message, the untimed ones included (channels.ts, STREAM_WARM).
  using sender = tx;
  const vals = Array.from({ length: 1024 }, (_, i) => makeValue(kind, i));
  for (let i = 0; i < n; i++) await sender.send(vals[i & 1023]);
});

export const makeBenchCounter = task(import.meta.url, function makeBenchCounter(): { n: number; add(k: number): number } {
  return {
    n: 0,
    add(k: number): number {
      return (this.n += k);
    },
  };
});
