// Who is on call now and who is next, per schedule.
import { get, listOf } from '../api.js';
import { h, note, replace } from '../dom.js';
import { timeNode } from '../time.js';
import { heading } from './common.js';

export async function render(main) {
  const box = h('div', {});
  replace(main, heading('On call'), box);
  let schedules;
  try {
    schedules = listOf(await get('/oncall'), 'schedules', 'oncall');
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

function who(shift) {
  if (!shift) return 'nobody';
  const people = shift.receivers ?? shift.people ?? shift.who ?? shift.receiver ?? shift.name;
  return Array.isArray(people) ? people.map((p) => (typeof p === 'string' ? p : p.name ?? p.address ?? '')).join(', ') : String(people ?? 'nobody');
}

function shiftLine(label, shift) {
  if (!shift) return h('p', {}, h('b', {}, `${label}: `), 'nobody');
  const from = shift.from ?? shift.start ?? shift.startsAt;
  const until = shift.until ?? shift.end ?? shift.endsAt;
  return h('p', {}, h('b', {}, `${label}: `), who(shift), from ? [' from ', timeNode(from)] : '', until ? [' until ', timeNode(until)] : '');
}

function card(schedule) {
  return h('li', { class: 'card' }, h('h2', {}, schedule.name ?? schedule.schedule ?? ''), shiftLine('Now', schedule.now ?? schedule.current), shiftLine('Next', schedule.next));
}
