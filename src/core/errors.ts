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

const FILE_ERRORS: Record<string, string> = {
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  ENAMETOOLONG: 'the file name is too long',
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many symbolic links',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files',
};

/**
 * Turn what the system or the JS engine throws into our own errors with a clear message: file
 * errors name the path and the reason (bad paths are InputError, a full or read-only disk a
 * WorkError), a RangeError (an allocation or a size no array can hold) a WorkError.
 */
export function asEngineError(err: unknown): unknown {
  if (err instanceof InputError || err instanceof WorkError || err instanceof CancelledError) return err;
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && Object.hasOwn(FILE_ERRORS, code)) {
    const where = e?.path ? `'${e.path}'${e.dest ? ` → '${e.dest}'` : ''}: ` : '';
    const why = `${where}${FILE_ERRORS[code] ?? code}`;
    return code === 'ENOSPC' || code === 'EROFS' || code === 'EDQUOT' || code === 'EMFILE' ? new WorkError(`cannot write ${why}`) : new InputError(`cannot use ${why}`);
  }
  if (err instanceof RangeError) return new WorkError(`the model asks for more than can be allocated (${err.message})`);
  return err;
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
