/**
 * A progress bar for the long runs (cli-progress) on a terminal; on anything
 * else (a pipe, CI) one line per step, as before.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** A step begins: `label` says which. */
  step(label: string): void;
  /** A line of its own (a skipped pool, an error), above the bar. */
  note(line: string): void;
  stop(): void;
}

export function progress(total: number): Progress {
  if (!process.stderr.isTTY) {
    return { step: (s) => void process.stderr.write(`${s}\n`), note: (s) => void process.stderr.write(`${s}\n`), stop: () => {} };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: 'bench {bar} {value}/{total} steps | {eta_formatted} left | {step}', etaBuffer: 4, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let done = -1;
  let stopped = false;
  bar.start(total, 0, { step: 'starting' });
  return {
    step: (label) => {
      done++;
      bar.update(Math.max(0, done), { step: label });
    },
    note: (line) => {
      if (stopped) return void process.stderr.write(`${line}\n`);
      bar.stop();
      process.stderr.write(`${line}\n`);
      bar.start(total, Math.max(0, done), { step: '' });
    },
    stop: () => {
      stopped = true;
      bar.update(total, { step: 'done' });
      bar.stop();
    },
  };
}
