/** Number formatting shared by the webviews. */
export function formatBytes(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
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
