import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatewayEvents } from '../../events.js';
import { alarmSummary } from './alarm-views.js';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339 } from './schemas.js';

/** How often an idle stream gets a comment line, so proxies and browsers keep it open and a dead peer is found. */
export const HEARTBEAT_MS = 15_000;

/** What one event stream may have unsent before it is closed. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** One server-sent event: its name and its JSON data. */
interface StreamEvent {
  event: string;
  data: unknown;
}

type Translate<K extends keyof GatewayEvents> = (payload: GatewayEvents[K]) => StreamEvent;

/**
 * The gateway events a console follows, as they go on the wire. Ids and summaries only:
 * a client that needs more reads it from the API (and after a reconnect it reads again,
 * since events it missed are not replayed).
 */
const STREAMED: { [K in keyof GatewayEvents]?: Translate<K> } = {
  'alarm-changed': (p) => ({ event: 'alarm-changed', data: { outcome: p.outcome, reason: p.reason, alarm: alarmSummary(p.alarm) } }),
  acknowledged: (p) => ({ event: 'acknowledged', data: { alarmId: p.alarm.id, by: p.ack.by, at: rfc3339(p.ack.at), channel: p.ack.channel, comment: p.ack.comment ?? null } }),
  held: (p) => ({ event: 'held', data: { alarmIds: p.alarmIds } }),
  queued: (p) => ({ event: 'queued', data: { outboxIds: p.outboxIds } }),
  delivered: (p) => ({ event: 'delivered', data: { outboxId: p.entry.id, alarmId: p.entry.alarmId ?? null, account: p.account } }),
  deferred: (p) => ({ event: 'deferred', data: { outboxId: p.entry.id, alarmId: p.entry.alarmId ?? null, account: p.account, reason: p.reason, retryAt: rfc3339(p.retryAt) } }),
  failed: (p) => ({ event: 'failed', data: { outboxId: p.entry.id, alarmId: p.entry.alarmId ?? null, account: p.account, reason: p.reason } }),
};

/** The names of the events the stream sends (besides `ready` on connect). */
export const STREAMED_EVENTS = Object.keys(STREAMED);

function frame(id: number, event: StreamEvent): string {
  // JSON has no raw newlines, so one data line per event.
  return `id: ${id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/**
 * GET /events: the event map as server-sent events, for the console's live board. Each
 * client has its own listeners, removed when it goes; a comment line every
 * `heartbeatMs` keeps idle connections open. Missed events are not replayed
 * (`Last-Event-ID` is ignored): a client that reconnects reads the state afresh, and the
 * first event of every stream, `ready`, tells it when.
 */
export async function registerEventStream(app: FastifyInstance, context: ApiContext, options: { heartbeatMs?: number } = {}): Promise<void> {
  const heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/events',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Live updates (server-sent events)',
        description:
          `A text/event-stream. First \`ready\` ({ at }), then as they happen: ${STREAMED_EVENTS.map((e) => `\`${e}\``).join(', ')}; ` +
          'each `data` is one JSON object (alarm events carry the alarm summary, delivery events the outbox and alarm ids). ' +
          'A comment line every 15 s keeps the stream open. Events missed while disconnected are not replayed: read the state again after a reconnect.',
        tags: ['events'],
        response: { 200: z.string().describe('text/event-stream'), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (req: FastifyRequest, res: FastifyReply) => {
      res.hijack();
      const raw = res.raw;
      raw.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        // A reverse proxy (nginx) must pass events on at once, not buffer them.
        'X-Accel-Buffering': 'no',
        'X-Content-Type-Options': 'nosniff',
      });
      let id = 0;
      const write = (event: StreamEvent) => {
        if (raw.destroyed) return;
        // A client that does not keep up (a flood, a stalled phone) is cut off rather than
        // buffered for without bound: it reconnects and reads the state afresh.
        if (raw.writableLength > MAX_BUFFERED_BYTES) {
          context.logger.warn({ buffered: raw.writableLength }, 'event stream client does not keep up; closing its stream (it reconnects and reads afresh)');
          raw.destroy();
          return;
        }
        id += 1;
        raw.write(frame(id, event));
      };
      // A browser that reconnects waits this long first (ms).
      raw.write('retry: 2000\n\n');
      write({ event: 'ready', data: { at: rfc3339(context.now()) } });

      const stops: Array<() => void> = [];
      for (const [name, translate] of Object.entries(STREAMED) as Array<[keyof GatewayEvents, Translate<keyof GatewayEvents>]>) {
        stops.push(context.events.on(name, (payload) => write(translate(payload))));
      }
      const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), heartbeatMs);
      heartbeat.unref();
      const stop = () => {
        clearInterval(heartbeat);
        for (const off of stops.splice(0)) off();
      };
      req.raw.socket.once('close', stop);
      raw.once('close', stop);
      raw.once('error', stop);
    },
  );
}
