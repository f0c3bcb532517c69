// Devices and when each was last heard from.
import { get, listOf } from '../api.js';
import { h, note, replace } from '../dom.js';
import { formatDuration, timeNode } from '../time.js';
import { heading, table } from './common.js';

export async function render(main) {
  const box = h('div', {});
  replace(main, heading('Devices'), box);
  let devices;
  try {
    devices = listOf(await get('/devices'), 'devices');
  } catch (error) {
    if (error.status !== 401) replace(box, note(`Could not read the devices: ${error.message}`, 'error'));
    return;
  }
  if (devices.length === 0) {
    replace(box, note('No devices known yet.'));
    return;
  }
  replace(
    box,
    table(
      devices,
      [
        ['Device', (d) => d.name ?? d.id],
        ['Id', (d) => d.id],
        ['Site', (d) => [d.site, d.area].filter(Boolean).join(' / ')],
        ['Last heard', (d) => (d.lastSeen ?? d.lastHeard ? h('span', {}, timeNode(d.lastSeen ?? d.lastHeard), ` (${formatDuration(Date.now() - new Date(d.lastSeen ?? d.lastHeard).getTime())} ago)`) : 'never')],
        ['Active alarms', (d) => String(d.activeAlarms ?? d.active ?? '')],
      ],
      { id: 'devices' },
    ),
  );
}
