// Consumer tests for bundlers (slow: each bundles, then runs the output from a
// folder of its own, with no node_modules). Run when SPINDLE_CONSUMERS_SLOW=1
// (`.ci/run` sets it).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SLOW, project, run, type Project } from './consumers/harness.js';

const TASKS = `import { spawn, task } from 'spindle';

export const add = task(import.meta.url, function add(a, b) {
  return a + b;
});

export const fib = task(import.meta.url, async function fib(n) {
  if (n < 12) {
    let a = 0, b = 1;
    for (let i = 0; i < n; i++) [a, b] = [b, a + b];
    return a;
  }
  const x = spawn(fib, n - 1);
  const y = spawn(fib, n - 2);
  return (await x) + (await y);
});

// Same name in a bundle as in another module, and an anonymous task: names must not rest on fn.name.
export const twice = task(import.meta.url, (n) => n * 2);
`;
const MAIN = `import { Runtime } from 'spindle';
import { add, fib, twice } from './tasks.js';

const rt = new Runtime({ workers: 2 });
try {
  console.log('RESULT ' + JSON.stringify({ add: await rt.spawn(add, 2, 3), fib: await rt.spawn(fib, 20), twice: await rt.spawn(twice, 21) }));
} finally {
  await rt.shutdown();
}
`;
const EXPECTED = { add: 5, fib: 6765, twice: 42 };
const PKG = JSON.stringify({ name: 'consumer', private: true, type: 'module' });

function result(out: string): unknown {
  const m = /RESULT (.*)/.exec(out);
  return m === null ? undefined : JSON.parse(m[1]!);
}

const cleanup: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanup) c();
});

async function make(name: string, files: Record<string, string>, tools: string[]): Promise<Project> {
  const p = await project(name, { 'package.json': PKG, 'tasks.js': TASKS, 'main.js': MAIN, ...files }, tools);
  cleanup.push(() => p.dispose());
  return p;
}

/** Copies the bundle folder to a fresh folder (no node_modules anywhere above it) and runs `entry` there. */
async function runMoved(p: Project, outDir: string, entry: string): Promise<ReturnType<typeof run>> {
  const moved = mkdtempSync(join(tmpdir(), 'spindle-moved-'));
  cleanup.push(() => rmSync(moved, { recursive: true, force: true }));
  cpSync(join(p.dir, outDir), moved, { recursive: true });
  cpSync(join(p.dir, 'package.json'), join(moved, 'package.json'));
  return run(process.execPath, [entry], { cwd: moved, timeout: 60_000 });
}

describe.skipIf(!SLOW)('consumer: bundlers (case 5)', () => {
  for (const minify of [false, true]) {
    it(`esbuild --bundle --platform=node --format=esm --splitting, tasks as an entry point${minify ? ', --minify' : ''}`, async () => {
      const p = await make(`esbuild${minify ? '-min' : ''}`, {}, ['esbuild']);
      const args = ['main.js', 'tasks.js', '--bundle', '--platform=node', '--format=esm', '--splitting', '--outdir=out'];
      const b = await p.bin('esbuild', minify ? [...args, '--minify'] : args);
      expect(b.code, b.all).toBe(0);
      const r = await runMoved(p, 'out', 'main.js');
      expect(result(r.stdout), r.all).toEqual(EXPECTED);
    });
  }

  it('esbuild into one file: the start-up error names the fix', async () => {
    const p = await make('esbuild-one', {}, ['esbuild']);
    const b = await p.bin('esbuild', ['main.js', '--bundle', '--platform=node', '--format=esm', '--outfile=out/app.js']);
    expect(b.code, b.all).toBe(0);
    const r = await runMoved(p, 'out', 'app.js');
    expect(r.code, r.all).not.toBe(0);
    expect(r.stderr).toMatch(/Bundle the task module as its own entry point/);
    expect(r.stderr).toMatch(/--splitting/);
  });

  it('rollup (node-resolve), tasks as an entry point', async () => {
    const p = await make(
      'rollup',
      {
        'rollup.config.mjs': `import { nodeResolve } from '@rollup/plugin-node-resolve';
export default {
  input: ['main.js', 'tasks.js'],
  output: { dir: 'out', format: 'es' },
  external: [/^node:/],
  plugins: [nodeResolve()],
};
`,
      },
      ['rollup', '@rollup/plugin-node-resolve'],
    );
    const b = await p.bin('rollup', ['-c', '--silent']);
    expect(b.code, b.all).toBe(0);
    const r = await runMoved(p, 'out', 'main.js');
    expect(result(r.stdout), r.all).toEqual(EXPECTED);
  });

  it('vite build --ssr, spindle bundled in (ssr.noExternal), tasks as an entry point', async () => {
    const p = await make(
      'vite',
      {
        'vite.config.mjs': `export default {
  ssr: { noExternal: true, target: 'node' },
  build: { ssr: true, outDir: 'out', minify: true, rollupOptions: { input: { main: 'main.js', tasks: 'tasks.js' } } },
};
`,
      },
      ['vite'],
    );
    const b = await p.bin('vite', ['build', '--logLevel', 'warn']);
    expect(b.code, b.all).toBe(0);
    const r = await runMoved(p, 'out', 'main.js');
    expect(result(r.stdout), r.all).toEqual(EXPECTED);
  });
});
