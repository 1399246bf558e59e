import { spawn } from '../../src/index.js';
import { releaseProxy, spawnActor } from '../../src/comlink.js';
import { makeCache, warmUp } from './cache.js';

const cache = spawnActor(makeCache); // the Cache lives on a worker; this is comlink's remote for it
// The remote is a shared handle: tasks it is passed to reach the same actor.
await Promise.all([spawn(warmUp, cache, 'a', 3), spawn(warmUp, cache, 'b', 2)]);
console.log(await cache.get('a1'));
console.log(await cache.get('zzz'));
console.log(await cache.stats());
cache[releaseProxy](); // the actor ends once every remote is released
// Output:
// value 1
// undefined
// { size: 5, hits: 1, misses: 1 }
