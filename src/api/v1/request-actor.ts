import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../pipeline/actor.js';

/** The request's principal as the audit log records it, for acts recorded inside their transaction. */
export function requestActor(req: FastifyRequest): Actor {
  return { name: req.principal?.name ?? 'anonymous', via: req.principal?.via ?? 'anonymous', peer: req.socket.remoteAddress ?? null };
}
