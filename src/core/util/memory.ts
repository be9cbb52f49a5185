/**
 * Resident memory of this process, measured: the current RSS, and the peak over a window from a
 * sampler thread. ONNX Runtime's `run` blocks the main thread, so a worker thread samples the
 * process's RSS every 2 ms and keeps the highest value in shared memory: a window's peak then
 * includes what ORT allocated and freed inside a run. (The kernel's high-water mark is left alone:
 * resetting it would falsify what GNU time and getrusage report for the process.)
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

export function rssBytes(): number {
  return process.memoryUsage.rss();
}

/** The sampler thread: [0] the highest RSS seen in KiB, [1] set to 1 to stop. */
const SAMPLER = `
const { workerData } = require('node:worker_threads');
const shared = new Int32Array(workerData);
while (Atomics.load(shared, 1) === 0) {
  const kib = Math.floor(process.memoryUsage.rss() / 1024);
  if (kib > Atomics.load(shared, 0)) Atomics.store(shared, 0, kib);
  Atomics.wait(shared, 1, 0, 2);
}
`;

export class RssSampler {
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private readonly worker: Worker;

  constructor() {
    this.worker = new Worker(SAMPLER, { eval: true, workerData: this.shared.buffer });
    this.worker.unref();
  }

  /** Start a peak window; the returned function gives the peak RSS (bytes) since. */
  window(): () => number {
    Atomics.store(this.shared, 0, Math.floor(rssBytes() / 1024));
    return () => Math.max(Atomics.load(this.shared, 0) * 1024, rssBytes());
  }

  async stop(): Promise<void> {
    Atomics.store(this.shared, 1, 1);
    Atomics.notify(this.shared, 1);
    await this.worker.terminate();
  }
}

/** VmHWM of this process in bytes (its peak RSS), when the system reports it. */
export function highWaterMark(): number | undefined {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const m = /VmHWM:\s*(\d+)\s*kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
