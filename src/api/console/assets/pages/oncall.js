// Who is on call now and who is next, per schedule.
import { get } from '../api.js';
import { h, note, replace } from '../dom.js';
import { timeNode } from '../time.js';
import { heading } from './common.js';

export async function render(main) {
  const box = h('div', {});
  replace(main, heading('On call'), box);
  let schedules;
  try {
    ({ schedules } = await get('/oncall'));
  } catch (error) {
    if (error.status !== 401) replace(box, note(`Could not read who is on call: ${error.message}`, 'error'));
    return;
  }
  if (schedules.length === 0) {
    replace(box, note('No on-call schedules are configured.'));
    return;
  }
  replace(box, h('ul', { class: 'cards', id: 'oncall' }, schedules.map(card)));
}

function card(schedule) {
  const now = schedule.onCall.length ? schedule.onCall.map((r) => `${r.name}${r.emails.length ? ` <${r.emails.join(', ')}>` : ''}`).join('; ') : 'nobody';
  return h(
    'li',
    { class: 'card', dataset: { schedule: schedule.name } },
    h('h2', {}, schedule.name),
    h('p', { class: 'oncall-now' }, h('b', {}, 'Now: '), now),
    h('p', { class: 'muted' }, schedule.because),
    schedule.next
      ? h('p', { class: 'oncall-next' }, h('b', {}, 'Next: '), schedule.next.receivers.join(', ') || 'nobody', ' from ', timeNode(schedule.next.at), h('span', { class: 'muted' }, ` (${schedule.next.because})`))
      : h('p', { class: 'muted' }, 'No change within a year.'),
  );
}
