// The layout tables in src/shared/layout.ts are documentation that must not
// drift: every H_*, W_* and SLOT_* constant appears in its table, in the order
// of its value, and the tables name no word that does not exist.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as L from '../src/shared/layout.js';

const source = readFileSync(new URL('../../src/shared/layout.ts', import.meta.url), 'utf8');
const doc = source.slice(0, source.indexOf('*/'));

describe('layout.ts tables', () => {
  for (const prefix of ['H_', 'W_', 'SLOT_']) {
    it(`the ${prefix}* table matches the constants`, () => {
      const constants = Object.entries(L)
        .filter(([k, v]) => k.startsWith(prefix) && typeof v === 'number' && !k.endsWith('_WORDS'))
        .sort((a, b) => (a[1] as number) - (b[1] as number))
        .map(([k]) => k);
      const rows = [...doc.matchAll(/^ \* \| ([A-Z_]+(?:, [A-Z_]+)?)\s*\|/gm)]
        .flatMap((m) => m[1]!.split(', '))
        .filter((k) => k.startsWith(prefix));
      expect(rows).toStrictEqual(constants);
    });
  }
});
