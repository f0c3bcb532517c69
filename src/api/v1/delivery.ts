import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Account } from '../../config/types.js';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339, rfc3339OrNull, Time } from './schemas.js';

const Waiting = z.object({
  pending: z.number().int().describe('Notifications waiting in the outbox'),
  oldestPendingAt: Time.nullable().describe('When the oldest of them was queued'),
  oldestPendingAgeSeconds: z.number().describe('Its age now; 0 when none waits'),
});

const AccountHealthBody = z
  .object({
    name: z.string(),
    type: z.enum(['smtp', 'file']),
    /** host:port, or the directory of a file account. */
    upstream: z.string(),
    lastSuccessAt: Time.nullable().describe('When an upstream last accepted a notification through this account'),
    lastError: z.object({ message: z.string(), at: Time }).nullable().describe('The last deferred or failed delivery through this account'),
    waiting: Waiting.describe('Notifications whose last attempt was through this account and that wait for their retry'),
  })
  .meta({ id: 'AccountHealth' });

const DeliveryBody = z
  .object({
    at: Time,
    queue: Waiting.describe('The whole outbox: the account is chosen at delivery (failover), so a queued notification belongs to none until tried'),
    accounts: z.array(AccountHealthBody).describe('Every configured account, in the order of failover'),
  })
  .meta({ id: 'DeliveryHealth' });

function upstreamOf(account: Account): string {
  return account.type === 'file' ? account.directory : `${account.host}:${account.port}`;
}

/**
 * `GET /delivery`: delivery health per account, what the console's page of it shows. Last
 * success and last error come from context.delivery (seeded from the outbox at start, live
 * from the event map); the queue is read from the store per request, one grouped query over
 * the pending entries.
 */
export async function registerDeliveryRoutes(app: FastifyInstance, context: ApiContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/delivery',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Delivery health per account: last success, last error, notifications waiting',
        tags: ['delivery'],
        response: { 200: DeliveryBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => {
      await context.delivery.loaded();
      const now = context.now();
      const pending = await context.store.outbox.pendingByAccount();
      const waiting = (rows: typeof pending): z.infer<typeof Waiting> => {
        const count = rows.reduce((n, r) => n + r.count, 0);
        const oldest = rows.length === 0 ? undefined : Math.min(...rows.map((r) => r.oldestCreatedAt));
        return { pending: count, oldestPendingAt: rfc3339OrNull(oldest), oldestPendingAgeSeconds: oldest === undefined ? 0 : Math.max(0, now - oldest) / 1000 };
      };
      return {
        at: rfc3339(now),
        queue: waiting(pending),
        accounts: context.config().delivery.accounts.map((account) => {
          const health = context.delivery.get(account.name);
          return {
            name: account.name,
            type: account.type,
            upstream: upstreamOf(account),
            lastSuccessAt: rfc3339OrNull(health?.lastSuccessAt),
            lastError: health?.lastError ? { message: health.lastError.message, at: rfc3339(health.lastError.at) } : null,
            waiting: waiting(pending.filter((r) => r.account === account.name)),
          };
        }),
      };
    },
  );
}
