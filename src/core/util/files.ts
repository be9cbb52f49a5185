/**
 * The one place where the engine opens files it reads or checks files it is about to replace:
 * only regular files, with sizes known before anything is allocated. FIFOs, devices and sockets
 * are refused before they can block a read or feed it endless bytes (a FIFO is opened
 * non-blocking, and every open is checked again with fstat, so a swapped path or a symlink to a
 * device is caught too).
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';

/** What kind of file a stat describes, in words for an error message. */
export function fileKind(s: fs.Stats): string {
  if (s.isFile()) return 'a regular file';
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  if (s.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function refuse(file: string, what: string, s: fs.Stats): never {
  throw new InputError(`${what} '${file}' is ${fileKind(s)}, not a regular file; refused`);
}

/** An InputError for a failed open/read/stat, with the system's reason in words. */
export function fileError(file: string, what: string, e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === 'ENOENT' ? 'no such file'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EISDIR' ? 'it is a folder'
    : code === 'ENOTDIR' ? 'a part of the path is not a folder'
    : code === 'ENAMETOOLONG' ? 'the name is too long'
    : code === 'ELOOP' ? 'too many symbolic links'
    : code === 'EMFILE' || code === 'ENFILE' ? 'too many open files'
    : ((e as Error)?.message ?? String(e));
  return new InputError(`cannot read ${what} '${file}': ${why}`);
}

/** Stat a path (following links) and refuse anything but a regular file. */
export function statRegularFile(file: string, what: string): fs.Stats {
  let s: fs.Stats;
  try {
    s = fs.statSync(file);
  } catch (e) {
    throw fileError(file, what, e);
  }
  if (!s.isFile()) refuse(file, what, s);
  return s;
}

/** An open regular file: its descriptor and its size at open time. */
export interface RegularFile {
  fd: number;
  size: number;
}

const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

/** Open for reading, refusing anything but a regular file (before and after the open). */
export function openRegularFile(file: string, what: string): RegularFile {
  statRegularFile(file, what);
  let fd: number;
  try {
    fd = fs.openSync(file, OPEN_FLAGS);
  } catch (e) {
    throw fileError(file, what, e);
  }
  const s = fs.fstatSync(fd);
  if (!s.isFile()) {
    fs.closeSync(fd);
    refuse(file, what, s);
  }
  return { fd, size: s.size };
}

/** Read exactly `length` bytes at `position`, or an InputError when the file ends early. */
export function readExactly(fd: number, out: Uint8Array, position: number, label: string): void {
  let done = 0;
  while (done < out.length) {
    const n = fs.readSync(fd, out, done, out.length - done, position + done);
    if (n === 0) throw new InputError(`${label} ended early (file shrank while being read?)`);
    done += n;
  }
}

/** Read a whole regular file, refusing it before allocation when it is larger than `maxBytes`. */
export function readRegularFile(file: string, what: string, maxBytes = 2 ** 31 - 1): Buffer {
  const { fd, size } = openRegularFile(file, what);
  try {
    if (size > maxBytes) throw new InputError(`${what} '${file}' is ${size} bytes, over the ${maxBytes}-byte limit`);
    const out = Buffer.allocUnsafe(size);
    readExactly(fd, out, 0, `${what} '${file}'`);
    return out;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw fileError(file, what, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** A regular file's text (UTF-8), with the same checks. */
export function readRegularText(file: string, what: string, maxBytes = 64 * 2 ** 20): string {
  return readRegularFile(file, what, maxBytes).toString('utf8');
}

/**
 * Check a path about to be written: when something is there, it must be a regular file (a FIFO
 * or device is never replaced, even with force). Returns whether it exists.
 */
export function checkWritableTarget(file: string, what: string): boolean {
  let s: fs.Stats;
  try {
    s = fs.lstatSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR') throw new InputError(`${what} '${file}': a part of the path is not a folder`);
    if (code === 'ENAMETOOLONG') throw new InputError(`${what} '${file}': the name is too long`);
    throw new InputError(`${what} '${file}': ${(e as Error).message}`);
  }
  if (s.isSymbolicLink()) {
    // A link is replaced by the rename, never written through; but a link to a special file
    // is refused as clearly as the file itself.
    try {
      const t = fs.statSync(file);
      if (!t.isFile() && !t.isDirectory()) refuse(file, what, t);
    } catch (e) {
      if (e instanceof InputError) throw e;
    }
    return true;
  }
  if (s.isDirectory()) throw new InputError(`${what} '${file}' is a folder`);
  if (!s.isFile()) refuse(file, what, s);
  return true;
}
