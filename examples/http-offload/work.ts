/** The CPU-heavy job: PBKDF2 key stretching (what a login endpoint does), about 10 ms on one core. */
import { pbkdf2Sync } from 'node:crypto';

/** Iterations of PBKDF2-SHA256: ≈10 ms on this project's machine. */
export const ROUNDS = 20_000;

/** Derives a 32-byte key from `password` and returns it as hex. Runs on the calling thread. */
export function derive(password: string, rounds = ROUNDS): string {
  return pbkdf2Sync(password, 'spindle-http-offload', rounds, 32, 'sha256').toString('hex');
}
