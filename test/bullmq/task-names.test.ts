// Portable task names (no Redis needed): task('registry/name', fn), the names
// spindle/bullmq derives for task(import.meta.url, fn), and that both forms
// still run on a local Runtime.
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, Runtime, task } from '../../src/index.js';
import { portableNameOf } from '../../src/bullmq/index.js';
import { registryNameOf } from '../../src/task.js';
import { double, nested, whereAmI } from './tasks.js';

describe('portable task names', () => {
  const rt = new Runtime({ workers: 2 });
  afterAll(() => rt.shutdown());

  it('task("registry/name", fn) is a module task found from its call site: it runs on a local runtime, nested spawns too', async () => {
    expect(registryNameOf(whereAmI)).toBe('test/where');
    const here = await rt.spawn(whereAmI);
    expect(here.pid).toBe(process.pid);
    const { parent, child } = await rt.spawn(nested);
    expect(child.pid).toBe(parent.pid);
  });

  it('sends a registry-named task under its registry name, and a URL-named one under <path from the package root>#<name>', () => {
    expect(portableNameOf(whereAmI)).toBe('test/where');
    expect(portableNameOf(double)).toBe('dist/test/bullmq/tasks.js#double');
  });

  it('refuses what has no portable name', () => {
    expect(() => portableNameOf((x: number) => x)).toThrow(/no portable name.*Inline functions/);
    expect(() => portableNameOf(42)).toThrow(TypeError);
  });

  it('rejects bad registry names with a TypeError that says what a name may be', () => {
    // ('/leading' is not here: an absolute path is a CommonJS module's __filename.)
    for (const bad of ['', ' spaced', 'has space', './leading', '.hidden', 'x'.repeat(201)]) {
      let err: unknown;
      try {
        task(bad, function f() {});
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/registry name is 1 to 200 characters/);
      expect((err as { code?: string }).code).toBe(ErrorCode.INVALID_ARG);
    }
  });

  it('refuses one registry name in two modules', async () => {
    await expect(import('./other-module.js')).rejects.toThrow(/registry name 'test\/square' is defined twice/);
  });

  it('keeps the URL forms working: task(import.meta.url, fn) and task(import.meta.url, "name", fn)', async () => {
    expect(await rt.spawn(double, 4)).toBe(8);
    expect(() => task('file:///x.js', 'n', 3 as never)).toThrow(TypeError);
  });
});
