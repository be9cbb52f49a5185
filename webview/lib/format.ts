/** Number formatting shared by the webviews. */
import { formatBytes as bytesText } from '../../src/shared/webviewMessages';

/** Bytes with the extension's one formatter; '—' when unknown. */
export function formatBytes(n: number | null): string {
  return n === null || !Number.isFinite(n) ? '—' : bytesText(n);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatFixed(n: number | null, digits = 2, suffix = ''): string {
  return n === null || !Number.isFinite(n) ? '—' : `${n.toFixed(digits)}${suffix}`;
}

export function formatPercent(n: number | null, digits = 2): string {
  return n === null || !Number.isFinite(n) ? '—' : `${(n * 100).toFixed(digits)} %`;
}

export function formatShape(shape: (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}
