import { Secret } from '../config/secret.js';
import type { Account } from '../config/types.js';
import type { SendRequest, SendResult } from './account-sender.js';

/** What the main thread and the delivery thread say to each other. */
export type ThreadRequest = { type: 'send'; id: number; account: string; request: SendRequest } | { type: 'close' };

export type ThreadReply =
  | { type: 'sent'; id: number; result: SendResult }
  | { type: 'failed'; id: number; error: { code?: string; responseCode?: number; response?: string; command?: string; message: string } }
  | { type: 'closed' };

export interface SenderThreadData {
  /** The accounts with their secrets as `{ $secret: value }`: a Secret does not cross threads (its value is a private field). */
  accounts: unknown[];
  hostname: string;
  connections: number;
}

/** The accounts as they can be posted to the delivery thread. */
export function flattenAccounts(accounts: readonly Account[]): unknown[] {
  return accounts.map((account) => flatten(account));
}

/** The accounts as the delivery thread rebuilds them: secrets and buffers as they were. */
export function reviveAccounts(accounts: unknown[]): Account[] {
  return accounts.map((account) => revive(account) as Account);
}

function flatten(value: unknown): unknown {
  if (value instanceof Secret) return { $secret: value.reveal() };
  if (Buffer.isBuffer(value)) return { $buffer: new Uint8Array(value) };
  if (Array.isArray(value)) return value.map(flatten);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flatten(v)]));
  return value;
}

function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$secret === 'string') return new Secret(record.$secret);
    if (record.$buffer instanceof Uint8Array) return Buffer.from(record.$buffer);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}
