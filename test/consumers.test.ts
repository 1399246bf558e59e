// Consumer tests: a new user's project in a throwaway folder, spindle installed
// from `npm pack`, each run as the user would run it. Every consumer prints its
// task results as JSON; the test compares them.
import { afterAll, describe, expect, it } from 'vitest';
import { killTree, project, start, type Project } from './consumers/harness.js';

const TASKS_TS = `import { spawn, task } from 'spindle';

export const add = task(import.meta.url, function add(a: number, b: number): number {
  return a + b;
});

export const fib = task(import.meta.url, async function fib(n: number): Promise<number> {
  if (n < 12) {
    let a = 0, b = 1;
    for (let i = 0; i < n; i++) [a, b] = [b, a + b];
    return a;
  }
  const x = spawn(fib, n - 1);
  const y = spawn(fib, n - 2);
  return (await x) + (await y);
});
`;
const TASKS_JS = TASKS_TS.replace(/: number|: Promise<number>/g, '');
const EXPECTED = { add: 5, fib: 6765 };

const MAIN_TS = `import { Runtime } from 'spindle';
import { add, fib } from './tasks.js';

const rt = new Runtime({ workers: 2 });
try {
  console.log('RESULT ' + JSON.stringify({ add: await rt.spawn(add, 2, 3), fib: await rt.spawn(fib, 20) }));
} finally {
  await rt.shutdown();
}
`;

const ESM_PKG = JSON.stringify({ name: 'consumer', private: true, type: 'module' });

/** The JSON after the last RESULT in the output. */
function result(out: string): unknown {
  const all = [...out.matchAll(/RESULT (.*)/g)];
  if (all.length === 0) return undefined;
  return JSON.parse(all[all.length - 1]![1]!);
}

const projects: Project[] = [];
async function make(name: string, files: Record<string, string>, tools: string[] = []): Promise<Project> {
  const p = await project(name, files, tools);
  projects.push(p);
  return p;
}
afterAll(() => {
  for (const p of projects) p.dispose();
});

describe('consumer: TypeScript task files under tsx (case 1)', () => {
  it('npx tsx main.ts, tasks.ts defines the tasks, no flags', async () => {
    const p = await make('tsx', { 'package.json': ESM_PKG, 'tasks.ts': TASKS_TS, 'main.ts': MAIN_TS }, ['tsx']);
    const r = await p.bin('tsx', ['main.ts']);
    expect(result(r.stdout), r.all).toEqual(EXPECTED);
  });

  it('tsx watch: runs, and runs again with the edited task module', async () => {
    const p = await make('tsx-watch', { 'package.json': ESM_PKG, 'tasks.ts': TASKS_TS, 'main.ts': MAIN_TS }, ['tsx']);
    const w = start(process.execPath, ['node_modules/.bin/tsx', 'watch', 'main.ts'], p.dir);
    try {
      await w.waitFor(/RESULT \{"add":5,"fib":6765\}/, 30_000);
      p.write('tasks.ts', TASKS_TS.replace('return a + b;', 'return a + b + 100;'));
      await w.waitFor(/RESULT \{"add":105,"fib":6765\}/, 30_000);
    } finally {
      killTree(w.child);
    }
  });
});

describe('consumer: vitest (case 2)', () => {
  const TEST = `import { expect, test } from 'vitest';
import { Runtime } from 'spindle';
import { add, fib } from './tasks.js';

test('spawns tasks defined in a .ts module', async () => {
  const rt = new Runtime({ workers: 2 });
  try {
    const r = { add: await rt.spawn(add, 2, 3), fib: await rt.spawn(fib, 20) };
    console.log('RESULT ' + JSON.stringify(r));
    expect(r).toEqual(${JSON.stringify(EXPECTED)});
  } finally {
    await rt.shutdown();
  }
});
`;
  for (const pool of ['forks', 'threads']) {
    it(`vitest run --pool=${pool}, no vitest config`, async () => {
      const p = await make(`vitest-${pool}`, { 'package.json': ESM_PKG, 'tasks.ts': TASKS_TS, 'spindle.test.ts': TEST }, [
        'vitest',
        'tsx',
      ]);
      const r = await p.bin('vitest', ['run', `--pool=${pool}`], { env: { CI: '1', NO_COLOR: '1' }, timeout: 90_000 });
      expect(r.code, r.all).toBe(0);
      expect(result(r.stdout), r.all).toEqual(EXPECTED);
      expect(r.stdout).toMatch(/1 passed/);
    });
  }
});

describe('consumer: a runtime inside a worker the user created (case 3)', () => {
  it('new Worker(...) whose code creates a Runtime and calls spawn', async () => {
    const p = await make('user-worker', {
      'package.json': ESM_PKG,
      'tasks.mjs': TASKS_JS,
      'main.mjs': `import { Worker } from 'node:worker_threads';
const w = new Worker(new URL('./worker.mjs', import.meta.url));
w.on('message', (m) => console.log('RESULT ' + JSON.stringify(m)));
w.on('error', (e) => { console.error(e); process.exitCode = 1; });
`,
      'worker.mjs': `import { parentPort } from 'node:worker_threads';
import { Runtime, spawn, AtomicI32 } from 'spindle';
import { add, fib } from './tasks.mjs';

const rt = new Runtime({ workers: 2 });
const hits = new AtomicI32(0);
const r = {
  add: await rt.spawn(add, 2, 3),
  fib: await rt.spawn(fib, 20),
  top: await spawn(add, 40, 2),
  shared: await rt.spawn((h) => h.add(7) + 7, hits),
};
await rt.shutdown();
parentPort.postMessage(r);
`,
    });
    const r = await p.node(['main.mjs']);
    expect(result(r.stdout), r.all).toEqual({ ...EXPECTED, top: 42, shared: 7 });
  });
});

describe('consumer: CommonJS (case 4)', () => {
  it("require('spindle') from .cjs, with a CommonJS task module", async () => {
    const p = await make('cjs', {
      'package.json': JSON.stringify({ name: 'consumer', private: true }),
      'tasks.cjs': `const { task, spawn } = require('spindle');
exports.add = task(__filename, function add(a, b) { return a + b; });
exports.fib = task(__filename, async function fib(n) {
  if (n < 2) return n;
  const x = spawn(exports.fib, n - 1), y = spawn(exports.fib, n - 2);
  return (await x) + (await y);
});
`,
      'main.cjs': `const { Runtime } = require('spindle');
const { add, fib } = require('./tasks.cjs');
const rt = new Runtime({ workers: 2 });
Promise.all([rt.spawn(add, 2, 3), rt.spawn(fib, 12)]).then(async ([a, f]) => {
  console.log('RESULT ' + JSON.stringify({ add: a, fib: f }));
  await rt.shutdown();
});
`,
    });
    const r = await p.node(['main.cjs']);
    expect(result(r.stdout), r.all).toEqual({ add: 5, fib: 144 });
  });

  it('a TypeScript project with "module": "commonjs", compiled by tsc; the published types are whole (checked, skipLibCheck off) and show no internals', async () => {
    const p = await make(
      'ts-cjs',
      {
        'package.json': JSON.stringify({ name: 'consumer', private: true }),
        'tsconfig.json': JSON.stringify({
          compilerOptions: { module: 'commonjs', target: 'es2022', strict: true, outDir: 'dist', types: ['node'], esModuleInterop: true, skipLibCheck: false },
          include: ['src'],
        }),
        'src/tasks.ts': `import { task } from 'spindle';
export const add = task(__filename, function add(a: number, b: number): number { return a + b; });
`,
        'src/main.ts': `import { Runtime } from 'spindle';
import { add } from './tasks';
async function main(): Promise<void> {
  const rt = new Runtime({ workers: 2 });
  const h = rt.spawn(add, 2, 3);
  // @ts-expect-error: a handle's internals (marked @internal) are not in the published types
  void h._state;
  const sum: number = await h;
  console.log('RESULT ' + JSON.stringify({ add: sum }));
  await rt.shutdown();
}
void main();
`,
      },
      ['typescript', '@types/node'],
    );
    const tsc = await p.bin('tsc', ['-p', '.'], { timeout: 120_000 });
    expect(tsc.code, tsc.all).toBe(0);
    const r = await p.node(['dist/main.js']);
    expect(result(r.stdout), r.all).toEqual({ add: 5 });
  });
});

describe("consumer: Node's flags (case 6)", () => {
  it('flags a worker cannot take are dropped; --import and --require still reach the workers', async () => {
    const p = await make('flags', {
      'package.json': ESM_PKG,
      'tasks.mjs': `${TASKS_JS}
export const hooks = task(import.meta.url, function hooks() {
  return { imported: globalThis.IMPORTED ?? null, required: globalThis.REQUIRED ?? null };
});
`,
      'hook-import.mjs': 'globalThis.IMPORTED = (globalThis.IMPORTED ?? 0) + 1;\n',
      'hook-require.cjs': 'globalThis.REQUIRED = (globalThis.REQUIRED ?? 0) + 1;\n',
      '.env': 'SPINDLE_CONSUMER=1\n',
    });
    const code = `import { Runtime } from 'spindle';
const { add, fib, hooks } = await import(new URL('./tasks.mjs', 'file://' + process.cwd() + '/').href);
const rt = new Runtime({ workers: 2 });
console.log('RESULT ' + JSON.stringify({ add: await rt.spawn(add, 2, 3), fib: await rt.spawn(fib, 20), hooks: await rt.spawn(hooks) }));
await rt.shutdown();`;
    const flags = [
      '--import',
      './hook-import.mjs',
      '--require',
      './hook-require.cjs',
      '--title=spindle-consumer',
      '--max-old-space-size=512',
      '--expose-gc',
      '--env-file=.env',
      '--enable-source-maps',
      '--conditions=development',
      '--no-warnings',
    ];
    const expected = { ...EXPECTED, hooks: { imported: 1, required: 1 } };
    const evalRun = await p.node([...flags, '--input-type=module', '--eval', code]);
    expect(result(evalRun.stdout), evalRun.all).toEqual(expected);
    p.write('main.mjs', code);
    const fileRun = await p.node([...flags, 'main.mjs']);
    expect(result(fileRun.stdout), fileRun.all).toEqual(expected);
  });
});

describe('consumer: Node 22.18+ / 24 type stripping (case 7)', () => {
  const strips = Boolean((process.features as { typescript?: unknown }).typescript);
  it.skipIf(!strips)('node main.ts, tasks.ts: .ts task files with no tool at all', async () => {
    const p = await make('strip-types', {
      'package.json': ESM_PKG,
      'tasks.ts': TASKS_TS,
      'main.ts': MAIN_TS.replace("'./tasks.js'", "'./tasks.ts'"),
    });
    const r = await p.node(['main.ts']);
    expect(result(r.stdout), r.all).toEqual(EXPECTED);
  });
});
