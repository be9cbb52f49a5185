/** Number formats shared by the Markdown and HTML renderings. */

/**
 * Byte counts for people: `512 B`, `1.50 KiB`, `12.3 MiB`: 1024-based, so the IEC unit names. The one
 * formatter of the CLI tables, reports, language server hovers, the Models tree and both webviews.
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  return ms < 1 ? `${ms.toFixed(3)} ms` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

export function formatPct(share: number | undefined): string {
  return share === undefined ? '–' : `${(share * 100).toFixed(2)} %`;
}

export function formatRatio(x: number): string {
  return `${x.toFixed(2)}×`;
}

export function baseName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}

/**
 * What a comparison ran on, in one line: `digits_test_x.npy, 360 samples, labelled`,
 * `x.npy, 64 samples, no labels: accuracy needs labels` or `random inputs, 64 samples: accuracy
 * needs labels`. The dashboard, the reports and the CLI say it the same way.
 */
export function evaluationDataText(a: { inputs: string; samples: number; dataFile?: string | undefined; labelsFile?: string | undefined; candidateAccuracy?: number | undefined }): string {
  const labelled = a.labelsFile !== undefined || a.candidateAccuracy !== undefined;
  if (a.inputs !== 'data') return `random inputs, ${a.samples} samples: accuracy needs labels`;
  const source = a.dataFile ? baseName(a.dataFile.replace(/[\\/]+$/, '')) : 'the data given';
  return `${source}, ${a.samples} samples, ${labelled ? 'labelled' : 'no labels: accuracy needs labels'}`;
}

/** Format an SQNR for people: "∞ (identical)" or "31.2 dB". */
export function formatSqnr(sqnrDb: number | null, identical?: boolean): string {
  if (sqnrDb === null) return identical === false ? 'n/a' : '∞ (identical)';
  return `${sqnrDb.toFixed(1)} dB`;
}

/** Characters that act on a terminal or a document instead of showing: controls, bidi, zero-width. */
// eslint-disable-next-line no-control-regex
const ACTIVE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// eslint-disable-next-line no-control-regex
const ACTIVE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const hex = (c: string): string => c.codePointAt(0)?.toString(16) ?? '';

/**
 * Text from a model (names, op types, file names) made inert for terminals and documents:
 * control characters (ESC sequences, CR/BS that overwrite printed figures, OSC 8/52), bidi
 * overrides and zero-width characters are shown as `\u{…}` escapes instead of acting.
 */
export function inertText(text: string): string {
  return text.replace(ACTIVE_CHARS, (c) => `\\u{${hex(c)}}`);
}

/**
 * A whole printed result (tables, lines, or one JSON object) made inert, line breaks kept: the
 * last guard for anything that reached it without inertText. Escapes are spelled `\uXXXX`, which
 * JSON reads back as the same character, so a JSON result keeps its meaning.
 */
export function inertOutput(text: string): string {
  return text.replace(ACTIVE_BUT_NEWLINE, (c) => `\\u${hex(c).padStart(4, '0')}`);
}
