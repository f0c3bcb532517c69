/**
 * Where a mail's or a notification's bytes are kept (migration 0013). SQLite rewrites a
 * row's whole record, overflow pages included, when a column of it changes size, so bytes
 * that do not fit in the row's page would be written again by every status update
 * (processed, sending, sent). Those go into a table of their own (`received_raw`,
 * `outbox_message`), written once; the row keeps an empty value. Smaller ones stay in the
 * row: its page is written by an update anyway, and a second table would cost two more
 * pages (table and key index) on every insert, 23 % more WAL bytes for a 1 KiB mail
 * (bench/store-blobs.ts).
 */

/**
 * The most bytes kept in the row: with the other columns (a few hundred bytes) the record
 * stays within one 4 KiB page's local payload (4,061 bytes), so nothing overflows.
 */
export const IN_ROW_MAX = 3072;

/** Whether `bytes` go into the table of their own rather than the row. */
export function outOfRow(bytes: Uint8Array): boolean {
  return bytes.byteLength > IN_ROW_MAX;
}

/** What the row holds: the bytes themselves, or nothing when they are kept out of it. */
export function inRow(bytes: Buffer): Buffer {
  return outOfRow(bytes) ? EMPTY : bytes;
}

const EMPTY = Buffer.alloc(0);
