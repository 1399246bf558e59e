import { spawn as spawnProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { within } from './helpers.js';

function runChild(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnProcess(process.execPath, [fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url))], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return within(done, 15_000, `${script} to exit by itself`).catch((e) => {
    child.kill('SIGKILL');
    throw e;
  });
}

describe('process lifetime', () => {
  it('an idle runtime lets the process exit by itself', async () => {
    const r = await runChild('idle-exit.js');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('result 5\n');
    expect(r.code).toBe(0);
  });

  it('a busy runtime keeps the process alive until its tasks are done', async () => {
    const r = await runChild('busy-exit.js');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('spawned\nlate result\n');
    expect(r.code).toBe(0);
  });
});
