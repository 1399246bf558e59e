/**
 * The channel errors, on the runtime's one taxonomy (`SpindleError` + a stable
 * `code`). A send that fails gives the value back (`err.value`), as Tokio's
 * `SendError(T)` does. Bad arguments stay `TypeError` / `RangeError`.
 */
import { ErrorCode, SpindleError } from '../errors.js';

/**
 * A send that could not happen: the receiving side is gone or closed
 * (`code` ERR_SPINDLE_CLOSED), or a oneshot was already sent
 * (ERR_SPINDLE_ALREADY_SET). `value` is what was being sent.
 */
export class SendError<T = unknown> extends SpindleError {
  override readonly name = 'SendError';
  /** The value that was not sent. */
  readonly value: T;
  constructor(message: string, value: T, code: ErrorCode = ErrorCode.CLOSED) {
    super(code, message);
    this.value = value;
  }
}

/**
 * `trySend` found no room (code ERR_SPINDLE_CHANNEL_FULL: no stack trace, as
 * polling loops meet it often) or a closed channel (ERR_SPINDLE_CLOSED).
 */
export class TrySendError<T = unknown> extends SpindleError {
  override readonly name = 'TrySendError';
  /** The value that was not sent. */
  readonly value: T;
  constructor(message: string, value: T, code: ErrorCode) {
    super(code, message);
    this.value = value;
  }
  /** True when the channel was full (a later try may succeed). */
  isFull(): boolean {
    return this.code === ErrorCode.CHANNEL_FULL;
  }
  /** True when the channel is closed (no later try will succeed). */
  isClosed(): boolean {
    return this.code === ErrorCode.CLOSED;
  }
}

/**
 * `tryRecv` found nothing (code ERR_SPINDLE_CHANNEL_EMPTY: no stack trace,
 * polling loops meet it often) or the end of the channel (ERR_SPINDLE_CLOSED).
 */
export class TryRecvError extends SpindleError {
  override readonly name = 'TryRecvError';
  /** True when the channel was empty but open. */
  isEmpty(): boolean {
    return this.code === ErrorCode.CHANNEL_EMPTY;
  }
  /** True when every sender is gone and nothing is left. */
  isClosed(): boolean {
    return this.code === ErrorCode.CLOSED;
  }
}

/** A receive that can never be satisfied: the sending side is gone (code ERR_SPINDLE_CLOSED). */
export class RecvError extends SpindleError {
  override readonly name = 'RecvError';
  constructor(message: string) {
    super(ErrorCode.CLOSED, message);
  }
}

/**
 * A broadcast receiver fell behind: `skipped` values were overwritten before
 * it read them. Raised once; the receiver continues from the oldest value
 * still kept (Tokio's `RecvError::Lagged(n)`).
 */
export class LaggedError extends SpindleError {
  override readonly name = 'LaggedError';
  /** How many values this receiver missed. */
  readonly skipped: number;
  constructor(skipped: number) {
    super(
      ErrorCode.LAGGED,
      `spindle: broadcast receiver lagged: ${skipped} value${skipped === 1 ? ' was' : 's were'} overwritten before it read them; ` +
        'it continues from the oldest value still kept (give the channel a larger capacity, or receive faster)',
    );
    this.skipped = skipped;
  }
}

/**
 * A wait abandoned through its `AbortSignal` (code ERR_SPINDLE_ABORTED). The
 * abandoned call consumed nothing: no message, no permit. `cause` is the
 * signal's reason.
 */
export class AbortedError extends SpindleError {
  override readonly name = 'AbortedError';
  constructor(what: string, reason: unknown) {
    super(ErrorCode.ABORTED, `spindle: ${what} was aborted through its signal; it consumed nothing`, { cause: reason });
  }
}
