import type { Severity } from '../config/schema.js';

/**
 * One occurrence of an alarm as a device reported it, decoded and enriched from the
 * device map; pure data, built by parse/ from a Received. The alarm that lives over
 * time (count, first/last seen, acks) is lifecycle's `Alarm`.
 */
export interface AlarmEvent {
  /** The Received id: the id the device was told in `250 ... queued as`. */
  id: string;
  receivedAt: number;
  source: 'smtp' | 'cli' | 'mqtt';
  listener: string;
  device: DeviceIdentity;
  /** Envelope sender, null for `<>`. */
  sender: string | null;
  /** Envelope recipients as the device gave them. */
  recipients: string[];
  peer: { address: string; helo?: string };
  title: string;
  text: string;
  /** `Key : value` lines of the body and named groups of extraction patterns. */
  fields: Record<string, string>;
  /** Set by extraction patterns (or the device's own fields). */
  key?: string;
  code?: string;
  severity?: Severity;
  value?: number;
  unit?: string;
  state: 'active' | 'cleared';
  /** The device's own time (Date header or a time field), epoch ms. */
  deviceTime?: number;
  /** Attachments stay in the received message; these are references to them. */
  attachments: AttachmentRef[];
  /** Names of the extraction patterns that matched, in order. */
  patterns: string[];
  /** Set when the device's mail could not be decoded: the event is the "undecodable mail" alarm. */
  undecodable?: { reason: string; size: number };
}

export interface DeviceIdentity {
  id: string;
  name: string;
  site?: string;
  area?: string;
  description?: string;
  /** How the device was recognised: by the device map, or the sender address as a fallback. */
  matchedBy: 'sender' | 'address' | 'helo' | 'topic' | 'fallback';
}

export interface AttachmentRef {
  /** Position among the message's attachments. */
  index: number;
  filename?: string;
  contentType: string;
  size: number;
}
