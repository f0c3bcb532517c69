import type { Clock, TimerHandle } from '../base/clock.js';
import type { GatewayEventBus } from '../events.js';
import type { Logger } from '../log/logger.js';
import { RateLimitedLog } from '../log/rate-limited-log.js';
import type { Peers } from '../store/store.js';

export interface LeadershipOptions {
  /** The store's peers; absent (the SQLite file): this gateway is alone and always leads. */
  peers: Peers | undefined;
  events: GatewayEventBus;
  clock: Clock;
  logger: Logger;
  /** How often a gateway beats (records itself, tries to take the lead): a dead leader is replaced within about this long. */
  interval: number;
  /** Called after each beat that found this gateway leading: the leader's own rounds (draining gone gateways' MQTT sessions). */
  onLeaderBeat?: () => void;
}

/** The default beat: a leader that died is replaced within 2 s (plus the server noticing a silent host). */
export const LEADERSHIP_INTERVAL = 2000;

/**
 * Which gateway runs the parts that must run once per database: the timers, the reply
 * watchers and the retained MQTT state. Every gateway beats at `interval`; the one holding
 * the store's leader lock says `leadership-gained`, and `leadership-lost` at once when its
 * control connection goes (the others take the lock at their next beat). Alone on the
 * SQLite file a gateway leads from start to stop.
 */
export class Leadership {
  #leading = false;
  #running = false;
  #timer: TimerHandle | undefined;
  #beating: Promise<void> = Promise.resolve();
  /** schedule() calls so far: tells a beat whether it already set the next one. */
  #schedules = 0;
  readonly #failures: RateLimitedLog;

  constructor(private readonly options: LeadershipOptions) {
    this.#failures = new RateLimitedLog(options.logger, 60_000, () => options.clock.now());
    options.peers?.onLost((reason) => {
      this.lose(reason);
      // Straight to the next beat: reconnect (and listen again) now, not an interval later.
      if (this.#running) this.schedule(0);
    });
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#running = true;
    if (!this.options.peers) {
      this.gain();
      return;
    }
    this.schedule(0);
  }

  /** Stops beating and gives the lead up (another gateway can take it at once). */
  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    await this.#beating;
    // Not 'leadership-lost': the gateway stops everything anyway, and a stop is no fault to warn of.
    this.#leading = false;
    await this.options.peers?.leave();
  }

  private schedule(ms: number): void {
    this.#schedules += 1;
    this.#timer?.cancel();
    this.#timer = this.options.clock.setTimer(() => {
      this.#beating = this.beat();
    }, ms);
  }

  private async beat(): Promise<void> {
    const peers = this.options.peers!;
    const schedulesBefore = this.#schedules;
    try {
      const leads = await peers.beat();
      this.#failures.reset('beat');
      if (!this.#running) return;
      if (leads && !this.#leading) this.gain();
      else if (!leads && this.#leading) this.lose('another gateway holds the lead');
      if (this.#leading) this.options.onLeaderBeat?.();
    } catch (error) {
      this.lose('the database cannot be reached');
      this.#failures.warn('beat', { err: error, gateway: peers.gateway }, 'cannot reach the database to take part in the leader election; trying again');
    } finally {
      // Unless the beat already asked for the next one (a lost connection: reconnect at once).
      if (this.#running && this.#schedules === schedulesBefore) this.schedule(this.options.interval);
    }
  }

  private gain(): void {
    this.#leading = true;
    if (this.options.peers) this.options.logger.info({ gateway: this.options.peers.gateway }, 'this gateway leads: running the timers, reply watchers and retained MQTT state');
    this.options.events.emit('leadership-gained', { gateway: this.options.peers?.gateway });
  }

  private lose(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.options.logger.warn({ gateway: this.options.peers?.gateway, reason }, `this gateway no longer leads (${reason}): its timers, reply watchers and retained MQTT state stop`);
    this.options.events.emit('leadership-lost', { gateway: this.options.peers?.gateway, reason });
  }
}
