import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, it, expect } from 'vitest';
import { Barrier, Mutex, Notify, OnceCell, RwLock, Semaphore, SpindleError } from '../../src/index.js';
import { controlWords, exited, go, rejectionOf, send, syncJob, until, within } from '../helpers.js';

type Opts = { signal?: AbortSignal };
// The `{ signal }` option, typed loosely so that the file also compiles against the API before it existed.
const lock = <T>(m: Mutex<T>, o?: Opts) => (m.lock as (o?: Opts) => ReturnType<Mutex<T>['lock']>)(o);

async function expectAborted(p: Promise<unknown>, reason: unknown): Promise<void> {
  const e = await within(rejectionOf(p), 5000, 'the aborted wait to reject');
  expect(e).toBeInstanceOf(SpindleError);
  expect(e).toMatchObject({ code: 'ERR_SPINDLE_ABORTED' });
  expect((e as Error).cause).toBe(reason);
}

describe('every wait takes an AbortSignal; an abandoned wait leaves cleanly', () => {
  it('Mutex.lock({ signal }): the aborted waiter rejects and its turn passes to the next waiter', async () => {
    const m = new Mutex(0);
    const g = await m.lock();
    const ac = new AbortController();
    const abandoned = lock(m, { signal: ac.signal });
    const next = m.lock();
    const reason = new Error('gave up');
    ac.abort(reason);
    await expectAborted(abandoned, reason);
    g.unlock();
    const g2 = await within(next, 5000, 'the next waiter gets the lock');
    g2.value = 1;
    g2.unlock();
    const g3 = m.tryLock();
    expect(g3).not.toBeNull();
    g3!.unlock();
  });

  it('Promise.race([lock({ signal }), timeout]): once the loser is aborted, the lock is not kept by nobody', async () => {
    const m = new Mutex(0);
    const g = await m.lock();
    const ac = new AbortController();
    const timeout = new Promise<'timeout'>((r) => setImmediate(() => r('timeout')));
    const winner = await Promise.race([lock(m, { signal: ac.signal }), timeout]);
    expect(winner).toBe('timeout');
    ac.abort();
    g.unlock();
    const g2 = await within(m.lock(), 5000, 'the lock is free again');
    g2.unlock();
  });

  it('an already-aborted signal rejects at once and takes no place in the queue', async () => {
    const m = new Mutex(0);
    const reason = new Error('before');
    await expectAborted(lock(m, { signal: AbortSignal.abort(reason) }), reason);
    expect(m.tryLock()).not.toBeNull();
  });

  it('many abandoned requests in a row are all skipped', async () => {
    const m = new Mutex(0);
    const g = await m.lock();
    const acs = Array.from({ length: 40 }, () => new AbortController());
    const abandoned = acs.map((ac) => lock(m, { signal: ac.signal }));
    const next = m.lock();
    for (const ac of acs) ac.abort();
    for (const p of abandoned) await rejectionOf(p);
    g.unlock();
    (await within(next, 5000, 'the waiter behind 40 abandoned requests')).unlock();
  });

  it("an abandoned turn is passed on without the abandoning thread (a worker that blocks for good after aborting)", async () => {
    const m = new Mutex(0);
    const g = await m.lock();
    const ctl = controlWords();
    const w = syncJob('abandonThenBlock', [send(m)], 0, ctl);
    await within(new Promise<void>((resolve) => w.once('message', () => resolve())), 10_000, 'worker queued');
    go(ctl);
    await until(() => Atomics.load(ctl, 4) !== 0, 5000, 'worker aborted its request');
    expect(Atomics.load(ctl, 4)).toBe(1); // rejected with ERR_SPINDLE_ABORTED
    const next = m.lock();
    g.unlock();
    (await within(next, 5000, 'the lock passes the blocked worker by')).unlock();
    await w.terminate();
    await exited(w);
  });

  it('RwLock.write({ signal }): an aborted writer no longer holds readers back', async () => {
    const rw = new RwLock(0);
    const r = await rw.read();
    const ac = new AbortController();
    const writer = (rw.write as (o?: Opts) => Promise<unknown>)({ signal: ac.signal });
    expect(rw.tryRead()).toBeNull(); // a waiting writer stops new readers
    const reason = new Error('no');
    ac.abort(reason);
    await expectAborted(writer, reason);
    const r2 = rw.tryRead();
    expect(r2).not.toBeNull();
    r2!.unlock();
    r.unlock();
    const w = rw.tryWrite();
    expect(w).not.toBeNull();
    w!.unlock();
  });

  it('RwLock.read({ signal }) and Semaphore.acquire({ signal }) reject when aborted', async () => {
    const rw = new RwLock(0);
    const w = await rw.write();
    const ac = new AbortController();
    const reader = (rw.read as (o?: Opts) => Promise<unknown>)({ signal: ac.signal });
    const sem = new Semaphore(0);
    const acquirer = (sem.acquire as (n?: number, o?: Opts) => Promise<unknown>)(1, { signal: ac.signal });
    const reason = new Error('stop');
    ac.abort(reason);
    await expectAborted(reader, reason);
    await expectAborted(acquirer, reason);
    w.unlock();
    sem.addPermits(1);
    expect(sem.tryAcquire()).not.toBeNull();
  });

  it('Notify.notified({ signal }): the aborted waiter is unregistered, so notifyOne keeps its permit', async () => {
    const n = new Notify();
    const ac = new AbortController();
    const waiter = (n.notified as (o?: Opts) => Promise<void>)({ signal: ac.signal });
    const reason = new Error('bye');
    ac.abort(reason);
    await expectAborted(waiter, reason);
    n.notifyOne(); // nobody waits now: stored as a permit
    await within(n.notified(), 5000, 'the permit is there for the next waiter');
  });

  it('Barrier.wait({ signal }): an aborted arrival is withdrawn', async () => {
    const b = new Barrier(2);
    const ac = new AbortController();
    const ghost = (b.wait as (o?: Opts) => Promise<unknown>)({ signal: ac.signal });
    const reason = new Error('left');
    ac.abort(reason);
    await expectAborted(ghost, reason);
    const both = await within(Promise.all([b.wait(), b.wait()]), 5000, 'two real arrivals complete a generation');
    expect(both.filter((r) => r.isLeader)).toHaveLength(1);
  });

  it('OnceCell.getOrInit(init, { signal }): a waiter for another initializer can give up', async () => {
    const cell = new OnceCell<number>();
    let finish!: (v: number) => void;
    const first = cell.getOrInit(() => new Promise<number>((r) => (finish = r)));
    const ac = new AbortController();
    const second = (cell.getOrInit as (f: () => number, o?: Opts) => Promise<number>)(() => 2, { signal: ac.signal });
    const reason = new Error('enough');
    ac.abort(reason);
    await expectAborted(second, reason);
    finish(1);
    expect(await first).toBe(1);
    expect(cell.get()).toBe(1);
  });

  it('safety net: a guard nobody holds (raw Promise.race, no signal) releases the lock when collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const m = new Mutex(0);
    const g = await m.lock();
    const winner = await Promise.race([m.lock().then(() => 'lock'), new Promise<'timeout'>((r) => setImmediate(() => r('timeout')))]);
    expect(winner).toBe('timeout');
    g.unlock(); // the lost request is served now: its guard reaches nobody
    await until(() => {
      gc();
      const again = m.tryLock();
      again?.unlock();
      return again !== null;
    }, 10_000, 'the unreachable guard to be collected and the lock released');
  });
});
