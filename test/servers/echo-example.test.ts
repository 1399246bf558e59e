// examples/echo run as `npm run echo` runs it, driven by socat.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { STRESS, within } from '../helpers.js';
import { digestOf, socatRoundTrip } from './clients.js';
import { startExample } from './example.js';

describe('examples/echo', () => {
  it('prints listening on, echoes 200 concurrent socat clients × 1 MiB exactly (1000 with SPINDLE_STRESS=1) on both workers, exits 0 on SIGINT', async () => {
    const ex = await startExample('echo', ['--port', '0', '--workers', '2']);
    const n = STRESS ? 1000 : 200;
    const inputs = Array.from({ length: n }, () => randomBytes(1 << 20));
    const outputs = await within(Promise.all(inputs.map((b) => socatRoundTrip(ex.port, b))), 120_000, `${n} echo round trips`);
    for (let i = 0; i < n; i++) expect(outputs[i], `connection ${i}`).toBe(digestOf(inputs[i]!));
    expect(await ex.stop('SIGINT')).toBe(0);
    const m = /connections per worker: (\d+) (\d+)/.exec(ex.stdout());
    expect(m, ex.stdout()).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(n);
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThan(0);
  }, 180_000);

  it('exits 0 on SIGTERM', async () => {
    const ex = await startExample('echo', ['--port', '0', '--workers', '1']);
    expect(await ex.stop('SIGTERM')).toBe(0);
  });
});
