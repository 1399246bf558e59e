import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url); // dist/test → repository root
const guide = readFileSync(new URL('docs/guide.md', root), 'utf8');
const snippets = readdirSync(new URL('examples/guide/', root)).filter((f) => /^\d\d-.*\.ts$/.test(f));

describe('docs/guide.md', () => {
  it('has snippets', () => expect(snippets.length).toBeGreaterThanOrEqual(5));

  it.each(snippets)('%s is in the guide verbatim and prints its // Output:', async (file) => {
    const src = readFileSync(new URL(`examples/guide/${file}`, root), 'utf8').trimEnd();
    expect(guide, `docs/guide.md does not show examples/guide/${file} as it is`).toContain(src);
    const expected = src
      .slice(src.indexOf('// Output:') + '// Output:'.length)
      .split('\n')
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .filter((l) => l !== '')
      .join('\n');
    const js = fileURLToPath(new URL(`dist/examples/guide/${file.replace(/\.ts$/, '.js')}`, root));
    const { stdout } = await run(process.execPath, [js], { timeout: 20_000 });
    expect(stdout.trim()).toBe(expected);
  });
});
