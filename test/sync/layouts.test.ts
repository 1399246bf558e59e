import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { wordTable, wordTables } from '../../src/shared/word-table.js';
import { LAYOUTS, withLayouts } from '../../src/sync/layouts.js';
import '../../src/index.js';

const doc = (): string => readFileSync(new URL('../../../docs/shared-state.md', import.meta.url), 'utf8');

describe('layout tables', () => {
  it('docs/shared-state.md shows exactly the layouts the code uses (run `npm run docs:layouts` after changing one)', () => {
    const text = doc();
    expect(text).toBe(withLayouts(text));
  });

  it('every layout table defined in the code is in the document', () => {
    for (const t of wordTables()) expect(LAYOUTS, t.title).toContain(t);
  });

  it('a table that overlaps, leaves a gap or ends elsewhere than its structure is refused when its module loads', () => {
    const row = (name: string, at: number, words: number) => ({ name, at, words, meaning: '', access: '' });
    const t = { title: 't', base: 'b', unit: 'word' as const, size: 4 };
    expect(() => wordTable({ ...t, rows: [row('A', 0, 2), row('B', 1, 3)] })).toThrow(/overlap/);
    expect(() => wordTable({ ...t, rows: [row('A', 0, 1), row('B', 2, 2)] })).toThrow(/gap/);
    expect(() => wordTable({ ...t, rows: [row('A', 0, 3)] })).toThrow(/ends at 4/);
  });
});
