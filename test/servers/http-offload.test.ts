// examples/http-offload in each mode, as `npm run http-offload` runs it, over real HTTP.
import { describe, expect, it } from 'vitest';
import { derive } from '../../examples/http-offload/work.js';
import { within } from '../helpers.js';
import { startExample } from './example.js';

describe('examples/http-offload', () => {
  for (const mode of ['inline', 'piscina', 'spindle']) {
    it(`serves /cheap and /heavy with the heavy job ${mode}`, async () => {
      const ex = await startExample('http-offload', ['--mode', mode, '--port', '0', '--workers', '2']);
      const get = (path: string): Promise<string> => within(fetch(`http://127.0.0.1:${ex.port}${path}`).then((r) => r.text()), 20_000, `GET ${path}`);
      expect(await get('/cheap')).toBe('ok');
      const keys = await Promise.all(['a', 'b', 'c', 'd'].map((p) => get(`/heavy?p=${p}`)));
      expect(keys).toEqual(['a', 'b', 'c', 'd'].map((p) => derive(p)));
      expect(await ex.stop('SIGINT')).toBe(0);
    });
  }
});
