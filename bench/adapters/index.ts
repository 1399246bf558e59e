import type { Adapter } from '../adapter.js';
import { OneThreadAdapter } from './one-thread.js';
import { PiscinaAdapter } from './piscina.js';
import { PoolifierAdapter } from './poolifier.js';
import { PostMessageAdapter } from './postmessage.js';
import { SpindleAdapter } from './spindle.js';
import { TinypoolAdapter } from './tinypool.js';
import { WorkerpoolAdapter } from './workerpool.js';

/**
 * Every adapter by the id used on the command line (`--peers`) and by the RSS
 * child. The order is the column order of the report. spindle and the
 * one-thread baseline always run; `--peers` picks among the rest.
 */
export const adapters = {
  spindle: () => new SpindleAdapter(),
  piscina: () => new PiscinaAdapter(),
  tinypool: () => new TinypoolAdapter(),
  workerpool: () => new WorkerpoolAdapter(),
  poolifier: () => new PoolifierAdapter(),
  postmessage: () => new PostMessageAdapter(),
  'one-thread': () => new OneThreadAdapter(),
} satisfies Record<string, () => Adapter>;

export type AdapterId = keyof typeof adapters;
export const PEERS: readonly AdapterId[] = ['piscina', 'tinypool', 'workerpool', 'poolifier', 'postmessage'];
