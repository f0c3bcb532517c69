import { BlockList, isIP } from 'node:net';

/**
 * A set of CIDR blocks: the plant LAN whose clients may relay without AUTH (ingest/smtp/),
 * or the addresses a device sends from (parse/device-map.ts).
 */
export class TrustedNetworks {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.empty = cidrs.length === 0;
    for (const cidr of cidrs) {
      const [address = '', prefix] = cidr.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      const bits = prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix);
      this.list.addSubnet(address, bits, family);
    }
  }

  contains(address: string): boolean {
    const plain = unmapIpv4(address);
    const family = isIP(plain);
    if (family === 0) return false;
    return this.list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) is matched as `10.1.2.3`. */
export function unmapIpv4(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? match[1]! : address;
}
