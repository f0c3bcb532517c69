/**
 * A plain aligned table for terminals. No cell is ever cut: a silence's matchers or an
 * alarm's title shortened to a column width hid the part that told two rows apart. A
 * wide cell widens its column; the last column is not padded.
 */
export function printTable(header: string[], rows: string[][]): void {
  process.stdout.write(formatTable(header, rows));
}

export function formatTable(header: string[], rawRows: string[][]): string {
  const rows = rawRows.map((row) => row.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/**
 * A cell as one line of plain text: control characters (a device's title may carry a line
 * break or a terminal escape sequence) are shown as \xNN rather than acted on.
 */
export function printable(cell: string): string {
  return cell.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\t' ? ' ' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
