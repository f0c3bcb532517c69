/**
 * The store itself failed (disk full, I/O error, the file gone or read-only, the database
 * unreachable): nothing about the message or alarm at hand was decided, the transaction
 * rolls back, and the work is tried again later. `code` is the backend's (`SQLITE_FULL`).
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static wrap(error: unknown): unknown {
    if (error instanceof StoreError) return error;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return new StoreError(`store: ${(error as Error).message}`, code, { cause: error });
    return error;
  }
}
