/**
 * How much CPU other processes took while we measured. The figures assume the
 * machine's cores are ours; on a shared 2-core machine a build or test run
 * elsewhere halves a pool's speedup without any error. The report prints this
 * so such a run can be recognised and repeated instead of believed.
 */
import os from 'node:os';

function machineBusyMs(): number {
  return os.cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
}

/** Starts measuring; the returned function gives the share of all cores used by other processes since. */
export function startNoiseMeter(): () => number {
  const busy0 = machineBusyMs();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const own = process.cpuUsage(own0);
    const ownMs = (own.user + own.system) / 1000;
    const foreignMs = Math.max(0, machineBusyMs() - busy0 - ownMs);
    return foreignMs / ((performance.now() - t0) * os.cpus().length);
  };
}
