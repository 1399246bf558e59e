/** The heavy job for piscina, which needs a worker file whose default export it calls. */
import { derive } from './work.js';

export default function heavy(password: string): string {
  return derive(password);
}
