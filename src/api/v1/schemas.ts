import { z } from 'zod';

/** Every error of API v1. */
export const ErrorBody = z.object({ error: z.string() }).meta({ id: 'Error' });

/** A time as RFC 3339 (UTC). */
export const Time = z.iso.datetime().describe('RFC 3339');

export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export function rfc3339OrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
