/**
 * The echo server's connection task — tokio's `io::copy(&mut reader, &mut
 * writer)` in a spawned task. This module has no side effects: every worker
 * imports it.
 */
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { task } from '../../src/index.js';

/** Sends every byte back, with the socket's own backpressure, until the client ends its side. */
export const echo = task(import.meta.url, async function echo(socket: Socket): Promise<void> {
  await pipeline(socket, socket);
});
