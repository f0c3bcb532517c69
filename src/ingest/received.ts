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
}
