import { describe, it, expect } from 'vitest';
import { SharedMap } from '../../src/sync/index.js';
import { firstMessage, mainScenario, send, syncJob } from '../helpers.js';

describe('SharedMap re-entry is an error, not a silent self-deadlock', () => {
  it('in a worker: update(k, v => v + map.get(k)) throws ERR_SPINDLE_DEADLOCK naming the map and key', async () => {
    const map = new SharedMap<string, number>({ name: 'scores' } as never);
    map.set('k', 1);
    const w = syncJob('mapReentry', [send(map)]);
    const r = await firstMessage<{ code?: string; message?: string }>(w, 10_000);
    expect(r.code).toBe('ERR_SPINDLE_DEADLOCK');
    expect(r.message).toMatch(/scores/);
    expect(r.message).toMatch(/'k'/);
    expect(r.message).toMatch(/fn's argument|after update/);
    expect(map.get('k')).toBe(1); // nothing changed, and the shard is free again
  });

  it('on the main thread too', async () => {
    const r = await mainScenario<{ code?: string; message?: string; after?: number }>('mapReentry');
    expect(r.code).toBe('ERR_SPINDLE_DEADLOCK');
    expect(r.after).toBe(1);
  });
});
