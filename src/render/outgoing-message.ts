/** What render/ hands on (the `Message` of the road): a whole mail and who gets it, ready for the outbox. */
export interface OutgoingMessage {
  /** The From address of the message; delivery may replace it in the envelope per account. */
  envelopeFrom: string;
  recipients: string[];
  message: Buffer;
  /**
   * Set when `message` ends with the received mail's own bytes from `offset` to its end (a
   * plain body passed on as it came; `length` of them): a store may keep only what comes before.
   */
  bodyOfReceived?: { offset: number; length: number };
}
