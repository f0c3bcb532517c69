// Devices and when each was last heard from.
import { get } from '../api.js';
import { h, note, replace } from '../dom.js';
import { formatDuration, timeNode } from '../time.js';
import { heading, table } from './common.js';

export async function render(main) {
  const box = h('div', {});
  replace(main, heading('Devices'), box);
  let devices;
  try {
    ({ devices } = await get('/devices'));
  } catch (error) {
    if (error.status !== 401) replace(box, note(`Could not read the devices: ${error.message}`, 'error'));
    return;
  }
  if (devices.length === 0) {
    replace(box, note('No devices configured or seen yet.'));
    return;
  }
  replace(
    box,
    table(
      devices,
      [
        ['Device', (d) => h('span', {}, d.name, d.configured ? '' : h('span', { class: 'muted' }, ' (not in the device map)'))],
        ['Id', (d) => d.id],
        ['Site', (d) => [d.site, d.area].filter(Boolean).join(' / ')],
        ['Last heard', (d) => (d.lastSeen ? h('span', {}, timeNode(d.lastSeen), ` (${formatDuration(Date.now() - Date.parse(d.lastSeen))} ago)`) : 'never')],
        ['Active alarms', (d) => (d.activeAlarms ? h('a', { href: `#/?device=${encodeURIComponent(d.id)}` }, String(d.activeAlarms)) : '0')],
      ],
      { id: 'devices' },
    ),
  );
}
