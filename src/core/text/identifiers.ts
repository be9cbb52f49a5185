/**
 * How tensor, node and graph names are spelled in the ONNX textual syntax.
 *
 * - 'modern' follows onnx.printer (onnx ≥ 1.16): C identifiers bare, anything else as a quoted
 *   string ("fc1.weight", "/fc1/Gemm_output_0"), node names as `[label]` prefixes.
 * - 'legacy' is what older parsers (onnx 1.12, Debian's python3-onnx) accept: identifiers only,
 *   so other names are rewritten to unique identifiers (`fc1_weight`); node names become comments.
 */
export type Dialect = 'modern' | 'legacy';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isValidIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

/**
 * A double-quoted string with `\` and `"` escaped, as the printer writes it; line breaks are
 * escaped too so that one rendered line stays one line.
 */
export function quoteString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
}

/** Spells names for one rendered model; legacy spellings stay unique across the whole model. */
export class NameSpeller {
  private readonly legacy = new Map<string, string>();
  private readonly taken = new Set<string>();

  constructor(
    readonly dialect: Dialect,
    /** Every name the model uses, so that a rewritten name never collides with a real one. */
    allNames: Iterable<string> = [],
  ) {
    if (dialect === 'legacy') for (const n of allNames) if (isValidIdentifier(n)) this.taken.add(n);
  }

  id(name: string): string {
    if (this.dialect === 'modern') return isValidIdentifier(name) ? name : quoteString(name);
    // The legacy parser reads an empty slot in a list as an omitted optional input/output.
    if (name === '' || isValidIdentifier(name)) return name;
    let out = this.legacy.get(name);
    if (out === undefined) {
      const base = /^[A-Za-z_]/.test(name) ? name.replace(/[^A-Za-z0-9_]/g, '_') : `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
      out = base;
      for (let i = 2; this.taken.has(out); i++) out = `${base}_${i}`;
      this.taken.add(out);
      this.legacy.set(name, out);
    }
    return out;
  }
}
