// The npm `multithreading` package (0.3.52) reads the global `navigator` at
// import time; Node gained that global in v21. On Node 20 it throws
// "ReferenceError: navigator is not defined", so give it the one field it reads.
// Import this module before 'multithreading' (ES modules evaluate in import order).
import { availableParallelism } from 'node:os';

const g = globalThis as { navigator?: { hardwareConcurrency: number } };
g.navigator ??= { hardwareConcurrency: availableParallelism() };
