/**
 * Counts the connections a listener serves, per client address and in total, for its
 * connection limits. Only admitted connections count: one refused at the door never does.
 */
export class ClientSlots {
  private readonly open = new Map<string, number>();
  private all = 0;

  acquire(address: string): number {
    const count = (this.open.get(address) ?? 0) + 1;
    this.open.set(address, count);
    this.all += 1;
    return count;
  }

  release(address: string): void {
    const held = this.open.get(address);
    if (held === undefined) return;
    this.all -= 1;
    if (held <= 1) this.open.delete(address);
    else this.open.set(address, held - 1);
  }

  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /** Connections open from all addresses together. */
  get total(): number {
    return this.all;
  }
}

export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerClient: number;
}

/** Why a new connection from `address` may not be served now, or undefined when it may. */
export function connectionRefusal(slots: ClientSlots, address: string, limits: ConnectionLimits): { scope: 'total' | 'client'; limit: number } | undefined {
  if (slots.total >= limits.maxConnections) return { scope: 'total', limit: limits.maxConnections };
  if (slots.count(address) >= limits.maxConnectionsPerClient) return { scope: 'client', limit: limits.maxConnectionsPerClient };
  return undefined;
}
