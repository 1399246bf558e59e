/**
 * The receiving ends `select` takes speak the poll protocol (src/channel/protocol.ts). Their classes
 * do not name the internal `Pollable` in `implements` (the API docs would show it), so the compiler
 * checks here that each one conforms (`npm run build` compiles this file), and the test checks that
 * `select`'s runtime test (`isPollable`) accepts them. The `oneshot`/`broadcast`/`watch` namespaces
 * carry the end classes as values too, so `instanceof oneshot.Sender` works.
 */
import { describe, expect, it } from 'vitest';
import { broadcast, mpsc, oneshot, watch } from '../../src/index.js';
import { isPollable, type Pollable } from '../../src/channel/protocol.js';
import * as broadcastMod from '../../src/channel/broadcast.js';
import * as oneshotMod from '../../src/channel/oneshot.js';
import * as watchMod from '../../src/channel/watch.js';

/** Compiles only if `r` conforms to `Pollable<T>`. */
function pollable<T>(r: Pollable<T>): Pollable<T> {
  return r;
}

describe('the poll protocol', () => {
  it('every receiving end is pollable; no sending end is', () => {
    const [mtx, mrx] = mpsc.channel<number>(4);
    const [otx, orx] = oneshot<string>();
    const [btx, brx] = broadcast<number>(4);
    const [wtx, wrx] = watch<number>(0);
    try {
      expect(isPollable(pollable<number>(mrx))).toBe(true);
      expect(isPollable(pollable<string>(orx))).toBe(true);
      expect(isPollable(pollable<number>(brx))).toBe(true);
      expect(isPollable(pollable<number>(wrx))).toBe(true);
      for (const tx of [mtx, otx, btx, wtx]) expect(isPollable(tx)).toBe(false);
    } finally {
      for (const end of [mtx, mrx, otx, orx, btx, brx, wtx, wrx]) end[Symbol.dispose]();
    }
  });
});

describe('the channel namespaces', () => {
  it('oneshot, broadcast and watch carry their end classes', () => {
    expect(oneshot.Sender).toBe(oneshotMod.Sender);
    expect(oneshot.Receiver).toBe(oneshotMod.Receiver);
    expect(broadcast.Sender).toBe(broadcastMod.Sender);
    expect(broadcast.Receiver).toBe(broadcastMod.Receiver);
    expect(watch.Sender).toBe(watchMod.Sender);
    expect(watch.Receiver).toBe(watchMod.Receiver);
    const [tx, rx] = oneshot<number>();
    expect(tx).toBeInstanceOf(oneshot.Sender);
    expect(rx).toBeInstanceOf(oneshot.Receiver);
    tx.drop();
    rx.drop();
  });
});
