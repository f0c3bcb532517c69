/**
 * What ingest hands to the rest of the gateway: the device's bytes exactly as they came,
 * with everything known about how they came. Committed to the store before the device
 * hears `250`.
 */
export interface Received {
  id: string;
  /** Epoch milliseconds. */
  receivedAt: number;
  /** Listener name from the configuration, or `cli` for `annunciator send`. */
  listener: string;
  peer: {
    address: string;
    port: number;
    helo?: string;
    authUser?: string;
    secure: boolean;
  };
  envelope: {
    /** Null for the null reverse-path `<>`. */
    mailFrom: string | null;
    rcptTo: string[];
  };
  raw: Buffer;
  /** For a message from an MQTT broker: where it was published; `raw` is the payload. */
  mqtt?: {
    topic: string;
    qos: 0 | 1 | 2;
    retain: boolean;
    dup: boolean;
    /** Packet ids are per client session: with several gateways, a redelivery is looked for among its client's messages only. */
    clientId?: string;
    messageId?: number;
  };
}
