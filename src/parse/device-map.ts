import { TrustedNetworks } from '../base/trusted-networks.js';
import type { DeviceConfig } from '../config/schema.js';
import type { DeviceIdentity } from './alarm-event.js';
import { compilePatterns, type CompiledPattern } from './extractor.js';

interface KnownDevice {
  config: DeviceConfig;
  networks: TrustedNetworks;
  senders: Set<string>;
  /** `*@plant.local`-style sender globs. */
  senderDomains: string[];
  helos: Set<string>;
  patterns: CompiledPattern[];
}

export interface Identified {
  device: DeviceIdentity;
  /** The device's own patterns first, then the global ones. */
  patterns: CompiledPattern[];
}

/**
 * Recognises devices by envelope sender, client address or HELO name, in that order of
 * trust; an unknown device is named by its sender address.
 */
export class DeviceMap {
  private readonly devices: KnownDevice[];
  private readonly globalPatterns: CompiledPattern[];

  constructor(devices: readonly DeviceConfig[], globalPatterns: CompiledPattern[] = []) {
    this.globalPatterns = globalPatterns;
    this.devices = devices.map((config) => ({
      config,
      networks: new TrustedNetworks(config.match.addresses),
      senders: new Set(config.match.senders.filter((s) => !s.startsWith('*@')).map((s) => s.toLowerCase())),
      senderDomains: config.match.senders.filter((s) => s.startsWith('*@')).map((s) => s.slice(1).toLowerCase()),
      helos: new Set(config.match.helos.map((h) => h.toLowerCase())),
      patterns: compilePatterns(config.patterns),
    }));
  }

  identify(input: { sender: string | null; address: string; helo?: string; fallbackName: string }): Identified {
    const sender = input.sender?.toLowerCase() ?? '';
    const helo = input.helo?.toLowerCase() ?? '';
    const bySender = sender ? this.devices.find((d) => d.senders.has(sender)) ?? this.devices.find((d) => d.senderDomains.some((s) => sender.endsWith(s))) : undefined;
    const found: [KnownDevice, DeviceIdentity['matchedBy']] | undefined = bySender
      ? [bySender, 'sender']
      : (() => {
          const byAddress = this.devices.find((d) => !d.networks.empty && d.networks.contains(input.address));
          if (byAddress) return [byAddress, 'address'];
          const byHelo = helo ? this.devices.find((d) => d.helos.has(helo)) : undefined;
          return byHelo ? [byHelo, 'helo'] : undefined;
        })();
    if (!found) {
      const id = input.sender || input.helo || input.address;
      return { device: { id, name: input.fallbackName, matchedBy: 'fallback' }, patterns: this.globalPatterns };
    }
    const [known, matchedBy] = found;
    const { config } = known;
    return {
      device: { id: config.id, name: config.name ?? config.id, site: config.site, area: config.area, description: config.description, matchedBy },
      patterns: [...known.patterns, ...this.globalPatterns],
    };
  }
}
