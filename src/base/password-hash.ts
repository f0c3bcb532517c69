import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes for console and API users (`http.users[].passwordHash`), as
 * `annunciator user hash` prints them:
 *
 *     scrypt$N$r$p$SALT$HASH        (SALT and HASH in base64, N a power of two)
 *
 * scrypt because Node has it built in (no native add-on to build on a plant's box) and it
 * is memory-hard; the parameters travel in the string, so a later, costlier default does
 * not invalidate hashes made before it.
 */
export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/**
 * N = 2^15, r = 8, p = 1: 32 MiB and about 0.1-0.3 s per hash on a small box (measured
 * 180-290 ms on a shared 2-core test machine). Verifying runs on libuv's thread pool, so
 * a login does not stall the event loop; the login rate limit bounds how many run.
 */
export const DEFAULT_LOG_N = 15;
const R = 8;
const P = 1;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Bounds on what a configured hash may ask for: below is too cheap to mean anything, above would exhaust memory. */
const MIN_LOG_N = 14;
const MAX_LOG_N = 20;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Reads a hash string; a sentence saying what is wrong with it (never the string itself) otherwise. */
export function parsePasswordHash(text: string): PasswordHash | { problem: string } {
  const parts = text.trim().split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return { problem: 'is not a password hash as `annunciator user hash` prints it (scrypt$N$r$p$salt$hash)' };
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const logN = Math.log2(N);
  if (!/^\d+$/.test(n) || !Number.isInteger(logN) || logN < MIN_LOG_N || logN > MAX_LOG_N) {
    return { problem: `has scrypt N=${n.slice(0, 12)}; it must be a power of two from 2^${MIN_LOG_N} to 2^${MAX_LOG_N}` };
  }
  const rn = Number(r);
  const pn = Number(p);
  if (!/^\d+$/.test(r) || rn < 1 || rn > 32) return { problem: 'has an scrypt r outside 1..32' };
  if (!/^\d+$/.test(p) || pn < 1 || pn > 16) return { problem: 'has an scrypt p outside 1..16' };
  if (!BASE64.test(salt) || !BASE64.test(hash)) return { problem: 'has a salt or hash that is not base64' };
  const saltBytes = Buffer.from(salt, 'base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (saltBytes.length < 8) return { problem: 'has a salt shorter than 8 bytes' };
  if (hashBytes.length < 16 || hashBytes.length > 64) return { problem: 'has a hash that is not 16 to 64 bytes long' };
  return { N, r: rn, p: pn, salt: saltBytes, hash: hashBytes };
}

export function isPasswordHash(value: PasswordHash | { problem: string }): value is PasswordHash {
  return !('problem' in value);
}

function derive(password: string, salt: Buffer, length: number, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes (times p run one after another); Node's default cap is 32 MiB.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** A new hash line for `password`; `logN` lower than the default only for tests. */
export async function hashPassword(password: string, options: { logN?: number } = {}): Promise<string> {
  const N = 2 ** (options.logN ?? DEFAULT_LOG_N);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, HASH_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `password` is the one `stored` was made from; the comparison takes the same time wherever the bytes differ. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const candidate = await derive(password, stored.salt, stored.hash.length, stored);
  return timingSafeEqual(candidate, stored.hash);
}
