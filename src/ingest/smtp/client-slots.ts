/** Counts open connections per client address, for the per-client connection limit. */
export class ClientSlots {
  private readonly open = new Map<string, number>();

  acquire(address: string): number {
    const count = (this.open.get(address) ?? 0) + 1;
    this.open.set(address, count);
    return count;
  }

  release(address: string): void {
    const count = (this.open.get(address) ?? 1) - 1;
    if (count <= 0) this.open.delete(address);
    else this.open.set(address, count);
  }

  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}
