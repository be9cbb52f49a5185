/**
 * One run at a time per output: a lock file `.NAME.lock` next to the output holds the pid of the
 * run writing it. A second run on the same output (another process, or another job of this one)
 * is refused while that process lives; a lock whose process is gone (killed run) is taken over,
 * and swept with the other temporaries (writeGuard.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { fileError, readRegularText } from './files';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `.NAME.lock`: the lock file of output NAME. */
const LOCK_NAME = /^\..+\.lock$/;

export function lockPathFor(output: string): string {
  return path.join(path.dirname(output), `.${path.basename(output)}.lock`);
}

/** Locks this process holds (two jobs of one worker process are refused like two processes). */
const held = new Set<string>();

/**
 * The pid a lock file names; 0 for an empty one (a run killed between creating and writing it);
 * undefined when the file is not one of ours (anything but a pid), which is never removed.
 */
function lockHolder(file: string): number | undefined {
  const text = readRegularText(file, 'output lock', 64);
  const m = /^(\d*)\s*$/.exec(text);
  return m ? Number(m[1] || 0) : undefined;
}

/** The lock at `file` belongs to a process that is gone (safe to remove). */
export function isStaleLock(file: string): boolean {
  if (!LOCK_NAME.test(path.basename(file))) return false;
  try {
    const pid = lockHolder(file);
    return pid !== undefined && !(pid === process.pid ? held.has(path.resolve(file)) : pid > 0 && processAlive(pid));
  } catch {
    return false;
  }
}

export interface OutputLock {
  readonly file: string;
  release(): void;
}

/** Take the lock of `output` (absolute path), or an InputError naming the run that holds it. */
export function lockOutput(output: string): OutputLock {
  const file = lockPathFor(output);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (held.has(file)) throw busy(output, process.pid, file);
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fileError(file, 'output lock', e);
      const pid = lockHolder(file);
      if (pid === undefined) throw new InputError(`'${file}' is in the way of the output lock of '${output}' and is not one; remove it`);
      if (pid > 0 && pid !== process.pid && processAlive(pid)) throw busy(output, pid, file);
      // Left by a run that is gone: taken over.
      fs.rmSync(file, { force: true });
      continue;
    }
    try {
      fs.writeSync(fd, `${process.pid}\n`);
    } finally {
      fs.closeSync(fd);
    }
    held.add(file);
    let released = false;
    return {
      file,
      release() {
        if (released) return;
        released = true;
        held.delete(file);
        // Only our own lock is removed (a lock taken over after ours was swept stays).
        try {
          if (lockHolder(file) === process.pid) fs.rmSync(file, { force: true });
        } catch {
          /* already gone */
        }
      },
    };
  }
  throw new InputError(`cannot take the output lock '${file}' of '${output}': other runs keep taking it`);
}

function busy(output: string, pid: number, file: string): InputError {
  return new InputError(
    `another run (pid ${pid}) is writing '${output}'; wait for it to end or choose another output (if no such run exists, remove '${file}')`,
  );
}
