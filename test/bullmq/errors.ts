// An error class both sides know: registered in the producer (the test) and on
// the machines (imported by tasks.ts), so a panic comes back as this class.
import { registerError } from '../../src/index.js';

export class RenderError extends Error {
  override name = 'RenderError';
  code: string;
  details: { page: number; tags: string[] };
  constructor(message: string, code: string, details: { page: number; tags: string[] }, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}
registerError(RenderError);
