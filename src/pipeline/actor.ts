import type { Repositories } from '../store/store.js';

/** Who did an act, for the audit log: a user or token over HTTP, or the OS user at the command line. */
export interface Actor {
  name: string;
  /** session, token, loopback, cli, ... (AuditEntry.via). */
  via: string;
  /** The remote address, when the act came over the network. */
  peer: string | null;
}

/** Records an act in the audit log, inside the transaction that did it: both stand or neither. */
export async function recordAct(tx: Pick<Repositories, 'audit'>, actor: Actor, at: number, action: string, target: string | null, detail: Record<string, unknown> | null): Promise<void> {
  await tx.audit.record({ at, actor: actor.name, via: actor.via, peer: actor.peer, action, target, detail });
}
