// src/shared/wake.ts: a wake-up from the sleeper's own thread ends the sleep within the waker's
// turn of the event loop (a microtask), instead of through waitAsync's task; a notify from
// elsewhere still ends it, also one that comes before the deferred futex wait has started.
import { describe, expect, it } from 'vitest';
import { Mutex, Notify, Semaphore, mpsc, oneshot } from '../../src/index.js';
import { sleepOn, wake } from '../../src/shared/wake.js';
import { STRESS, within } from '../helpers.js';

/** A flag that an event-loop turn sets: still false afterwards means no turn passed. */
function nextTurn(): { passed: boolean } {
  const t = { passed: false };
  setImmediate(() => (t.passed = true));
  return t;
}

describe('a wake from the same thread', () => {
  it('ends an mpsc recv, a oneshot, a Notify, a Mutex and a Semaphore wait within the turn', async () => {
    const [tx, rx] = mpsc.channel<number>(4);
    const got = rx.recv();
    await Promise.resolve(); // the receiver is asleep now
    tx.send(7);
    let turn = nextTurn();
    expect(await got).toBe(7);
    expect(turn.passed, 'mpsc recv woke through the event loop').toBe(false);

    const [otx, orx] = oneshot<string>();
    const reply = orx.recv();
    await Promise.resolve();
    otx.send('hi');
    turn = nextTurn();
    expect(await reply).toBe('hi');
    expect(turn.passed, 'oneshot woke through the event loop').toBe(false);

    const notify = new Notify();
    const woken = notify.notified();
    notify.notifyOne();
    turn = nextTurn();
    await woken;
    expect(turn.passed, 'Notify woke through the event loop').toBe(false);

    const m = new Mutex(0);
    const first = await m.lock();
    const second = m.lock();
    await Promise.resolve();
    first.unlock();
    turn = nextTurn();
    (await second).unlock();
    expect(turn.passed, 'Mutex hand-off went through the event loop').toBe(false);

    const sem = new Semaphore(0);
    const permit = sem.acquire();
    await Promise.resolve();
    sem.addPermits(1);
    turn = nextTurn();
    (await permit).release();
    expect(turn.passed, 'Semaphore woke through the event loop').toBe(false);
    notify.free();
    m.free();
    sem.free();
  });

  it('a long chain of hand-offs that never yields to the event loop completes (no futex wait piles up)', async () => {
    const ping = new Notify();
    const pong = new Notify();
    const n = STRESS ? 1_000_000 : 100_000;
    const other = (async () => {
      for (let i = 0; i < n; i++) {
        await ping.notified();
        pong.notifyOne();
      }
    })();
    const turn = nextTurn();
    for (let i = 0; i < n; i++) {
      const p = pong.notified();
      ping.notifyOne();
      await p;
    }
    await within(other, 10_000, 'the other side of the chain');
    expect(turn.passed, 'the chain needed event-loop turns').toBe(false);
    ping.free();
    pong.free();
  });
});

describe('sleepOn', () => {
  it('ends at a notify from elsewhere, also one made before its futex wait started', async () => {
    const i32 = new Int32Array(new SharedArrayBuffer(8));
    // A notify this thread's table does not see (as from another thread): the word changes first.
    const s = sleepOn(i32, 0, 0, 60_000)!;
    Atomics.store(i32, 0, 1);
    Atomics.notify(i32, 0);
    expect(await within(s, 5000, 'the sleep to see the change when its wait starts')).toBe('ok');
    expect(sleepOn(i32, 0, 0, 60_000), 'no sleep on a word that already differs').toBeUndefined();
    const late = sleepOn(i32, 0, 1, 60_000)!;
    await new Promise((r) => setImmediate(r)); // its futex wait has started
    Atomics.store(i32, 0, 2);
    Atomics.notify(i32, 0);
    expect(await within(late, 5000, 'a notify after the wait started')).toBe('ok');
    const timed = sleepOn(i32, 0, 2, 5)!;
    expect(await within(timed, 5000, 'the timeout')).toBe('timed-out');
    // A local wake ends every sleeper of this thread on the word, the others stay.
    const a = sleepOn(i32, 0, 2, 60_000)!;
    const b = sleepOn(i32, 1, 0, 60_000)!;
    wake(i32, 0);
    expect(await a).toBe('ok');
    let bDone = false;
    void b.then(() => (bDone = true));
    await new Promise((r) => setImmediate(r));
    expect(bDone).toBe(false);
    wake(i32, 1);
    expect(await b).toBe('ok');
  });
});
