import type { FastifyRequest } from 'fastify';
import type { AuditRepository } from '../store/store.js';

/** What an act was, for the audit log (who, when and from where come from the request). */
export interface AuditAct {
  action: string;
  target?: string | null;
  detail?: Record<string, unknown> | null;
}

/**
 * Writes one act of the request's principal to the audit log. Called after the act was
 * committed; a failure to write it is logged and not the caller's failure (the act stands).
 */
export async function auditAct(audit: Pick<AuditRepository, 'record'>, req: FastifyRequest, at: number, act: AuditAct): Promise<void> {
  const principal = req.principal;
  try {
    await audit.record({
      at,
      actor: principal?.name ?? 'anonymous',
      via: principal?.via ?? 'anonymous',
      peer: req.socket.remoteAddress ?? null,
      action: act.action,
      target: act.target ?? null,
      detail: act.detail ?? null,
    });
  } catch (error) {
    req.log.error({ err: error, action: act.action, target: act.target }, 'the act was done but could not be written to the audit log');
  }
}
