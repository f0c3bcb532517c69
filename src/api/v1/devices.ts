import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiContext } from '../context.js';
import { ErrorBody, rfc3339OrNull, Time } from './schemas.js';

const DeviceState = z
  .object({
    id: z.string(),
    name: z.string(),
    site: z.string().nullable(),
    area: z.string().nullable(),
    description: z.string().nullable(),
    configured: z.boolean().describe('in the device map (`devices`); false: known only from its alarms (named by its sender address)'),
    lastSeen: Time.nullable().describe('when it was last heard from: the latest last-seen time of its stored alarms; null: no alarm stored'),
    activeAlarms: z.number().int(),
  })
  .meta({ id: 'DeviceState' });

/** Devices in API v1: the device map's and those seen, with when each was last heard from. */
export async function registerDeviceRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/devices',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'The devices of the device map and the devices seen, with when each was last heard from and its active alarms',
        tags: ['devices'],
        response: { 200: z.object({ devices: z.array(DeviceState) }), 401: ErrorBody, 403: ErrorBody },
      },
    },
    async () => {
      const seen = new Map((await ctx.store.alarms.devices()).map((d) => [d.device.id.toLowerCase(), d]));
      const devices: z.infer<typeof DeviceState>[] = [];
      for (const device of ctx.config().devices) {
        const activity = seen.get(device.id.toLowerCase());
        seen.delete(device.id.toLowerCase());
        devices.push({
          id: device.id,
          name: device.name ?? device.id,
          site: device.site ?? null,
          area: device.area ?? null,
          description: device.description ?? null,
          configured: true,
          lastSeen: rfc3339OrNull(activity?.lastSeen),
          activeAlarms: activity?.activeAlarms ?? 0,
        });
      }
      for (const { device, lastSeen, activeAlarms } of seen.values()) {
        devices.push({ id: device.id, name: device.name, site: device.site ?? null, area: device.area ?? null, description: device.description ?? null, configured: false, lastSeen: rfc3339OrNull(lastSeen), activeAlarms });
      }
      return { devices };
    },
  );
}
