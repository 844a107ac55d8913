// Text output of the jobqueue CLI: aligned tables (numbers right-aligned), ages, counts.

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => string;
  readonly align?: 'left' | 'right';
}

/** Visible width: code points, so a wiki ID with "é" does not shift the columns. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/** Rows under a header, columns separated by two spaces; `footer` rows come after a rule. */
export function formatTable<T>(
  columns: readonly Column<T>[],
  rows: readonly T[],
  footer: readonly T[] = [],
): string {
  const cells = (row: T) => columns.map((c) => c.value(row).replace(/[\r\n\t]/g, ' '));
  const body = rows.map(cells);
  const foot = footer.map(cells);
  const widths = columns.map((c, i) =>
    Math.max(width(c.header), ...body.map((r) => width(r[i] ?? '')), ...foot.map((r) => width(r[i] ?? ''))),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => pad(v, widths[i] ?? 0, columns[i]?.align ?? 'left'))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.header)), ...body.map(line)];
  if (foot.length > 0) out.push(widths.map((w) => '-'.repeat(w)).join('  '), ...foot.map(line));
  return out.join('\n') + '\n';
}

export function formatCount(n: number): string {
  return String(n);
}

/** 45s, 3m05s, 2h07m, 3d04h; "-" when unknown. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor((s % 86400) / 3600))}h`;
}

/** UNIX seconds as ISO 8601 UTC without milliseconds. */
export function isoSeconds(unix: number): string {
  return new Date(unix * 1000).toISOString().replace('.000Z', 'Z');
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
