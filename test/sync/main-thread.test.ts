import { describe, it, expect } from 'vitest';
import { mainScenario } from '../helpers.js';

describe('the main thread never blocks for good on a lock another thread may hold forever', () => {
  it('a worker that dies inside SharedMap.update while the main thread waits for that shard: the main thread goes on', async () => {
    // The main thread blocks synchronously in map.get(); its own worker 'exit'
    // handler cannot run, so the holder's death must be seen without it.
    const r = await mainScenario<{ value?: number; code?: string; error?: string }>('mapHolderDies');
    expect(r.error).toBeUndefined();
    // The update never happened (the worker died in fn, before writing): the old value, or a PoisonError.
    if (r.code !== undefined) expect(r.code).toBe('ERR_SPINDLE_POISONED');
    else expect(r.value).toBe(1);
  });

  it('where the holder cannot be checked (no /proc), the main thread gives up with ERR_SPINDLE_LOCK_TIMEOUT instead of hanging', async () => {
    const r = await mainScenario<{ first: { code?: string; message?: string }; after: number }>('mapHolderDiesNoProbe');
    expect(r.first.code).toBe('ERR_SPINDLE_LOCK_TIMEOUT');
    expect(r.first.message).toMatch(/SharedMap "scores"\.get\(key\) for 'k' on the main thread/);
    expect(r.after).toBe(1); // its abandoned turn passed on; the dead holder's lock recovered
  });
});
