/**
 * What happened to one model in one mode, and the class a refusal, a wrong output or a crash
 * belongs to. Classes come from the message itself (known families first, then the message with
 * names and numbers blanked), so that new failure kinds group themselves without a list to keep.
 */
import { CancelledError, InputError, WorkError } from '../../src/core/errors';

export type Verdict = 'ok' | 'warned' | 'unchanged' | 'refused' | 'wrong' | 'crashed' | 'not-run';
export type SweepMode = 'dynamic' | 'static';

export interface Outcome {
  model: string;
  mode: SweepMode;
  verdict: Verdict;
  /** Failure class (refused / wrong / crashed / not-run), or the first skip reason's class when unchanged. */
  cls?: string;
  /** The message behind the class. */
  detail?: string;
  quantizedNodes?: number;
  /** Lowest output SQNR against float over all outputs and data sets (null: identical). */
  worstSqnrDb?: number | null;
  seconds: number;
}

/** Known message families; the key 'opset' is the refusal for the model's opset alone. */
const FAMILIES: { key: string; test: RegExp }[] = [
  { key: 'opset', test: /\bopset \d+ is below\b|need[s]? opset \d+/i },
  { key: 'validation', test: /failed validation/i },
  { key: 'already quantized', test: /already quantized|already float16/i },
  { key: 'calibration', test: /calibration/i },
];

/** Blank out what differs between two instances of the same message: quoted names, numbers, shapes. */
export function normalizeMessage(message: string): string {
  return message
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\[[^\]]*\]/g, '[…]')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 110);
}

export function classOf(message: string): string {
  const family = FAMILIES.find((f) => f.test.test(message));
  const normalized = normalizeMessage(message);
  if (!family) return normalized;
  // Validation failures: the family plus what ONNX Runtime said (the probe's fault or the model's).
  if (family.key === 'validation') return `validation: ${normalizeMessage(message.replace(/^.*?failed validation[^:]*:\s*/i, ''))}`;
  return `${family.key}: ${normalized}`;
}

/** Our own errors are refusals (stated reasons); anything else thrown is a crash. */
export function isRefusal(e: unknown): boolean {
  return e instanceof InputError || e instanceof WorkError || e instanceof CancelledError;
}

export function isOpsetRefusal(o: Outcome): boolean {
  return o.verdict === 'refused' && (o.cls ?? '').startsWith('opset:');
}
