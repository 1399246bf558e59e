import { spawn } from '../../src/index.js';

// Arguments cross threads: plain data does, code and live objects do not.
// The error comes from spawn itself, at the line that broke the rule.
try {
  spawn((opts: { onDone: () => void }) => opts, { onDone: () => {} });
} catch (e) {
  console.log((e as TypeError).message.split('. ')[0]);
}
// Output:
// spindle: argument 1 (at .onDone) is a function (onDone), which cannot cross threads
