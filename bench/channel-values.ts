// The values the channel benchmarks carry.
export type ValueKind = 'number' | 'string' | 'object';

/** Value `i` of a kind: small numbers, short strings, or a small object. */
export function makeValue(kind: ValueKind, i: number): unknown {
  switch (kind) {
    case 'number':
      return i;
    case 'string':
      return `message ${i}`;
    case 'object':
      return { id: i, name: 'item', tags: ['a', 'b'], score: i / 2 };
  }
}

interface NodePort {
  postMessage(m: unknown): void;
  on(ev: 'message', l: (data: unknown) => void): unknown;
  off(ev: 'message', l: (data: unknown) => void): unknown;
  start?(): void;
}
type Handler = ((ev: { data: unknown }) => void) | { handleEvent(ev: { data: unknown }): void };

/** comlink's node-adapter (comlink/dist/esm/node-adapter.mjs), typed: a Worker or MessagePort as a comlink Endpoint. */
export function nodeEndpoint(nep: NodePort): {
  postMessage(m: unknown): void;
  addEventListener(type: string, h: Handler): void;
  removeEventListener(type: string, h: Handler): void;
  start?(): void;
} {
  const listeners = new WeakMap<object, (data: unknown) => void>();
  return {
    postMessage: (m) => nep.postMessage(m),
    addEventListener: (_type, h) => {
      const l = (data: unknown): void => (typeof h === 'function' ? h({ data }) : h.handleEvent({ data }));
      nep.on('message', l);
      listeners.set(h, l);
    },
    removeEventListener: (_type, h) => {
      const l = listeners.get(h);
      if (l === undefined) return;
      nep.off('message', l);
      listeners.delete(h);
    },
    ...(nep.start ? { start: () => nep.start!() } : {}),
  };
}

/**
 * A stream consumer's clock: `tick()` once per message received, true at the
 * last one. It runs from the `warm`-th message (the last untimed one; at
 * least 1) to the last of the `n` timed ones after it.
 */
export function streamClock(warm: number, n: number): { tick(): boolean; done(): boolean; ms(): number; rate(): number; timed(): number } {
  let got = 0;
  let t0 = 0;
  let t1 = 0;
  return {
    tick(): boolean {
      got++;
      if (got === warm) t0 = performance.now();
      if (got !== warm + n) return false;
      t1 = performance.now();
      return true;
    },
    done: () => got === warm + n,
    ms: () => t1 - t0,
    rate: () => (n / (t1 - t0)) * 1000,
    timed: () => got - warm,
  };
}
