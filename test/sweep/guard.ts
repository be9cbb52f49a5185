/** quantizeFile in-process with a time limit: the result, a stated refusal, or a crash. */
import { quantizeFile, type QuantizeOptions, type QuantizeResult } from '../../src/core/quantize/index';
import { quantizeWithAutoExclude } from '../../src/core/evaluate/autoExclude';
import { isRefusal } from './outcome';

export type Guarded = { kind: 'done'; result: QuantizeResult } | { kind: 'refused'; message: string } | { kind: 'crashed'; message: string; stack?: string };

export const firstLine = (e: unknown): string => ((e as Error)?.message ?? String(e)).split('\n')[0] ?? '';

/**
 * On timeout the job is cancelled through its signal and reported as a crash (a hang is a bug).
 * `autoExclude` (a target such as `sqnr:20`) runs the quantizer's auto-exclude instead, judged on
 * `fidelityData` (else the calibration data).
 */
export async function quantizeGuarded(input: string, output: string, options: QuantizeOptions, timeoutMs: number, autoExclude?: string): Promise<Guarded> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const data = options.fidelityData ?? options.calibrationData;
  const run = autoExclude
    ? quantizeWithAutoExclude(input, output, options, autoExclude, { signal: abort.signal }, data ? { data } : {}).then((r) => r.quantize)
    : quantizeFile(input, output, options, { signal: abort.signal });
  run.catch(() => undefined); // settles after a timeout has won the race
  try {
    const first = await Promise.race([run, timeout]);
    if (first === 'timeout') {
      abort.abort();
      return { kind: 'crashed', message: `timeout after ${timeoutMs / 1000} s` };
    }
    return { kind: 'done', result: first };
  } catch (e) {
    if (isRefusal(e)) return { kind: 'refused', message: firstLine(e) };
    const stack = (e as Error)?.stack?.split('\n').slice(0, 4).join(' | ');
    return { kind: 'crashed', message: `${(e as Error)?.name ?? 'throw'}: ${firstLine(e)}`, ...(stack ? { stack } : {}) };
  } finally {
    clearTimeout(timer);
  }
}
