import type { FastifyRequest } from 'fastify';
import { recordAct } from '../pipeline/actor.js';
import type { ApiContext } from './context.js';
import { requestActor } from './v1/request-actor.js';

/** What an act was, for the audit log (who, when and from where come from the request). */
export interface AuditAct {
  action: string;
  target?: string | null;
  detail?: Record<string, unknown> | null;
}

/**
 * Writes one act of the request's principal to the audit log, for acts that have no
 * transaction of their own (a login, a reload); acts that do record it inside theirs
 * (`recordAct`). Called after the act; a failure to write it is logged and not the
 * caller's failure (the act stands).
 */
export async function auditAct(ctx: Pick<ApiContext, 'store' | 'logger'>, req: FastifyRequest, at: number, act: AuditAct): Promise<void> {
  try {
    await recordAct(ctx.store, requestActor(req), at, act.action, act.target ?? null, act.detail ?? null);
  } catch (error) {
    // fastify's own request logger is off (logger: false): the gateway's logger says it.
    ctx.logger.error({ err: error, action: act.action, target: act.target }, 'the act was done but could not be written to the audit log');
  }
}
