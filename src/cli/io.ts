import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../core/errors';
import { inertOutput, inertText } from '../core/report/format';

/** Every line made inert, the line breaks kept. */
export function inertLines(text: string): string {
  return text.split('\n').map(inertText).join('\n');
}

/** Where a command writes: stdout gets the result (table or one JSON object), stderr logs and progress. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Like err, in bold on a terminal (the text made inert, the styling ours). */
  errBold?(text: string): void;
  /** True when stderr is a terminal (progress may redraw a line). */
  interactive: boolean;
}

export const processIO: CliIO = {
  // stdout: the commands make model strings inert where they print them; this catches the rest.
  out: (t) => process.stdout.write(inertOutput(t.endsWith('\n') ? t : t + '\n')),
  // stderr carries warnings and errors that quote model names: each line made inert.
  err: (t) => process.stderr.write(inertLines(t.endsWith('\n') ? t : t + '\n')),
  errBold: (t) => process.stderr.write(`\x1b[1m${inertLines(t.replace(/\n$/, ''))}\x1b[0m\n`),
  // Read when asked: opening stderr (its stream module) cost inspect 3 ms at startup.
  get interactive() {
    return !!process.stderr.isTTY;
  },
};

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: CliIO, signal: AbortSignal): Promise<number>;
}

/** A command's own module; the summary `--help` lists is in commands/index.ts, which loads no module for it. */
export type CommandModule = Omit<Command, 'summary'>;

/** util.parseArgs with usage errors turned into InputError (exit 2, one line). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new InputError(`${(e as Error).message.split('\n')[0]}\nusage: ${usage}`);
  }
}

/** Parse a numeric option, refusing junk with a clear message. */
export function numberOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new InputError(`--${name} expects a number ≥ ${min}, got '${value}'`);
  return n;
}

export function listOption(value: string | undefined): string[] {
  return value ? value.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

/** Plain text table with aligned columns (numbers right-aligned). */
export function table(headers: string[], rows: (string | number)[][]): string {
  // Cells come from models: made inert (no escape sequences reach the terminal). Widths by a
  // loop, not Math.max(...cells): a 200,000-row table would overflow the call stack.
  const cells = [headers, ...rows.map((r) => r.map((c) => inertText(String(c))))];
  const widths = headers.map((_, i) => {
    let w = 0;
    for (const r of cells) w = Math.max(w, (r[i] ?? '').length);
    return w;
  });
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^-?[\d.,]+( ?[%x×]|[kMG]?B| ms| dB)?$/.test(String(r[i]))));
  const line = (r: string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
