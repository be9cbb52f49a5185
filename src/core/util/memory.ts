/**
 * Resident memory of this process, measured: the current RSS and the peak over a window. On Linux
 * the kernel's high-water mark (VmHWM) is reset by writing 5 to /proc/self/clear_refs, so a window's
 * peak includes whatever ONNX Runtime allocated and freed inside a run; elsewhere the window's
 * peak falls back to the RSS when it closes (ORT's arena keeps what it took, so that is close).
 */
import * as fs from 'node:fs';

export function rssBytes(): number {
  return process.memoryUsage.rss();
}

let canReset: boolean | undefined;

/** Start a peak window; returns a function that reads the peak RSS (bytes) since the start. */
export function peakWindow(): () => number {
  if (canReset !== false) {
    try {
      fs.writeFileSync('/proc/self/clear_refs', '5');
      canReset = true;
    } catch {
      canReset = false;
    }
  }
  if (!canReset) return () => rssBytes();
  return () => Math.max(highWaterMark() ?? 0, rssBytes());
}

/** VmHWM of this process in bytes, when the system reports it. */
export function highWaterMark(): number | undefined {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const m = /VmHWM:\s*(\d+)\s*kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
