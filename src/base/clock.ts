/**
 * Time as the gateway sees it, handed in at the top (createApp) so that tests can run
 * hours of escalations, silences and retries in milliseconds with a fake clock.
 * Socket and protocol timeouts (SMTP session limits, TLS handshakes) stay on real time:
 * they are about the peer, not about the gateway's schedule.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now on this clock; the handle cancels it. Never keeps the process alive. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

export interface TimerHandle {
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
