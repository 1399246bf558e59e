// `npm run docs:layouts`: rewrites the layouts section of docs/shared-state.md
// from the code's layout tables (src/sync/layouts.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { withLayouts } from '../../src/sync/layouts.js';

const file = new URL('../../../docs/shared-state.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = withLayouts(before);
writeFileSync(file, after);
console.log(before === after ? 'docs/shared-state.md: layouts already up to date' : 'docs/shared-state.md: layouts rewritten');
