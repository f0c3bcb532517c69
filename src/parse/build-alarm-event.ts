import type { Received } from '../ingest/received.js';
import type { AlarmEvent, DeviceIdentity } from './alarm-event.js';
import { bodyFields } from './body-fields.js';
import type { DecodedMail, UndecodableInfo } from './decode-mail.js';
import type { DeviceMap } from './device-map.js';
import { matchPatterns } from './extractor.js';
import { normaliseSeverity, normaliseState } from './severity.js';
import { deviceName } from './device-name.js';
import { undecodableTitle } from './undecodable-mail.js';

/** Field names a pattern's named group or `set` may give that have a place of their own. */
const RESERVED = new Set(['key', 'code', 'severity', 'value', 'unit', 'state', 'title']);

/** Received + decoded mail -> one alarm occurrence. Pure. */
export function buildAlarmEvent(received: Received, mail: DecodedMail, devices: DeviceMap): AlarmEvent {
  const { device, patterns } = devices.identify({
    sender: received.envelope.mailFrom,
    address: received.peer.address,
    helo: received.peer.helo,
    fallbackName: deviceName(received, mail),
  });
  if (mail.undecodable) return undecodableEvent(received, mail.text, mail.undecodable, device);
  // A plain mail's text has LF line ends already (decodeMail); the scan is for the others.
  const text = (mail.text.includes('\r') ? mail.text.replace(/\r\n?/g, '\n') : mail.text).trim();
  const title = mail.subject.trim() || text.split('\n', 1)[0]?.slice(0, 200) || '(no subject)';
  const fields = bodyFields(text);
  const event: AlarmEvent = {
    ...occurrence(received, device),
    title,
    text,
    fields,
    state: 'active',
    deviceTime: mail.date?.getTime(),
    attachments: mail.attachments.map((a, index) => ({ index, filename: a.filename, contentType: a.contentType, size: a.content.length })),
    patterns: [],
  };
  for (const match of matchPatterns(patterns, title, text)) {
    event.patterns.push(match.name);
    for (const [name, value] of Object.entries(match.groups)) {
      if (RESERVED.has(name)) applyReserved(event, name, value);
      else fields[name] = value;
    }
    for (const [name, value] of Object.entries(match.set)) {
      if (value !== undefined) applyReserved(event, name, String(value));
    }
  }
  return event;
}

/**
 * The alarm for a mail that could not be decoded: named after the device, one alarm per
 * message (each carries different bytes someone has to look at), no patterns applied to
 * text the gateway wrote itself.
 */
function undecodableEvent(received: Received, text: string, { reason, size }: UndecodableInfo, device: DeviceIdentity): AlarmEvent {
  return {
    ...occurrence(received, device),
    title: undecodableTitle(device.name),
    text,
    fields: { decodeError: reason },
    key: `undecodable-${received.id}`,
    state: 'active',
    attachments: [],
    patterns: [],
    undecodable: { reason, size },
  };
}

/** What every mail's event says of where and from whom it came. */
function occurrence(received: Received, device: DeviceIdentity): Pick<AlarmEvent, 'id' | 'receivedAt' | 'source' | 'listener' | 'device' | 'sender' | 'recipients' | 'peer'> {
  return {
    id: received.id,
    receivedAt: received.receivedAt,
    source: received.listener === 'cli' ? 'cli' : 'smtp',
    listener: received.listener,
    device,
    sender: received.envelope.mailFrom,
    recipients: received.envelope.rcptTo,
    peer: { address: received.peer.address, helo: received.peer.helo },
  };
}

function applyReserved(event: AlarmEvent, name: string, value: string): void {
  switch (name) {
    case 'key':
      event.key = value;
      break;
    case 'code':
      event.code = value;
      break;
    case 'severity':
      event.severity = normaliseSeverity(value) ?? event.severity;
      break;
    case 'value': {
      const number = Number(value.replace(',', '.'));
      if (Number.isFinite(number)) event.value = number;
      break;
    }
    case 'unit':
      event.unit = value;
      break;
    case 'state':
      event.state = normaliseState(value);
      break;
    case 'title':
      event.title = value;
      break;
  }
}
