/**
 * Errors the engine raises on purpose. Every entry point (CLI, worker, language server)
 * turns them into one clear line; anything else is a bug and is reported as such.
 *
 * - InputError: bad usage or bad input (missing file, not ONNX, corrupted protobuf,
 *   unsafe external-data path). CLI exit status 2.
 * - WorkError: the work itself failed (ONNX Runtime cannot load the output, calibration
 *   failed). CLI exit status 1.
 * - CancelledError: the caller cancelled the job.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly exitCode = 2;
}

export class WorkError extends Error {
  override readonly name = 'WorkError';
  readonly exitCode = 1;
}

export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  readonly exitCode = 1;
  constructor(message = 'cancelled') {
    super(message);
  }
}

/** Exit code for any thrown value: our own errors carry one, anything else is a failure of the work. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof InputError || err instanceof WorkError || err instanceof CancelledError) return err.exitCode;
  return 1;
}

/** One line, no stack: what users see. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}

/** Cooperative cancellation shared by engine, worker and CLI (an AbortSignal is enough). */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
