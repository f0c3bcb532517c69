// Silences: those in force and to come, expiring one, and making one (one-off window or
// weekly), prefilled from an alarm (#/silences/new?alarm=ID) with its device and title.
import { get, post } from '../api.js';
import { h, note, replace } from '../dom.js';
import { instantToWall, timeNode, zoneLabel } from '../time.js';
import { deviceText, heading, may, severityBadge } from './common.js';

const FIELDS = ['device.id', 'device.name', 'device.site', 'device.area', 'severity', 'title', 'key', 'code'];
const OPERATORS = [
  ['=', 'is'],
  ['!=', 'is not'],
  ['~', 'matches (regex)'],
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export async function render(main, route, session) {
  const creating = route.path === '/silences/new';
  const listBox = h('section', { class: 'silence-list' });
  const formBox = h('section', { class: 'silence-form' });
  const canEdit = may(session, 'responder');
  replace(main, heading('Silences', canEdit && !creating ? h('a', { class: 'button primary', href: '#/silences/new', id: 'new-silence' }, 'New silence') : null), formBox, listBox);

  async function refresh() {
    try {
      const { silences } = await get('/silences');
      replace(listBox, silences.length === 0 ? note('No silences in force or to come.') : h('ul', { class: 'cards', id: 'silences' }, silences.map(card)));
    } catch (error) {
      if (error.status !== 401) replace(listBox, note(`Could not read the silences: ${error.message}`, 'error'));
    }
  }

  function card(silence) {
    const status = h('span', { class: 'action-status', 'aria-live': 'polite' });
    const over = silence.state === 'expired' || silence.state === 'ended';
    const expire = canEdit && !over
      ? h('button', {
          type: 'button',
          class: 'danger',
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              await post(`/silences/${encodeURIComponent(silence.id)}/expire`);
              await refresh();
            } catch (error) {
              replace(status, note(`Not expired: ${error.message}`, 'error'));
              event.target.disabled = false;
            }
          },
        }, 'Expire now')
      : null;
    return h(
      'li',
      { class: 'card silence', dataset: { id: silence.id } },
      h('div', { class: 'matchers' }, silence.matchers.map((m) => h('code', {}, m))),
      h('p', {}, silence.comment),
      h('p', { class: 'muted' }, h('b', { class: `silence-${silence.state}` }, silence.state), ' · ', scheduleText(silence), ` · by ${silence.createdBy}`),
      expire,
      status,
    );
  }

  if (creating && canEdit) await drawForm(formBox, route.params.get('alarm'), async () => {
    history.replaceState(null, '', '#/silences');
    replace(formBox);
    await refresh();
  });
  await refresh();
}

function scheduleText(silence) {
  const parts = [silence.description];
  if (silence.state === 'active' && silence.holdsUntil) parts.push(' · holds until ', timeNode(silence.holdsUntil));
  if (silence.expiredAt) parts.push(' · expired ', timeNode(silence.expiredAt));
  return h('span', {}, parts);
}

async function drawForm(box, alarmId, done) {
  let alarm;
  if (alarmId) {
    try {
      alarm = (await get(`/alarms/${encodeURIComponent(alarmId)}`)).alarm;
    } catch (error) {
      if (error.status === 401) return;
      box.append(note(`The alarm ${alarmId} could not be read: ${error.message}`, 'error'));
    }
  }
  const rows = h('div', { class: 'matcher-rows', id: 'matcher-rows' });
  const addRow = (field = 'device.id', op = '=', value = '') => {
    const row = h(
      'div',
      { class: 'matcher-row' },
      h('select', { name: 'field', 'aria-label': 'Field' }, FIELDS.map((f) => h('option', { value: f, selected: f === field }, f))),
      h('select', { name: 'operator', 'aria-label': 'Operator' }, OPERATORS.map(([o, text]) => h('option', { value: o, selected: o === op }, text))),
      h('input', { name: 'value', 'aria-label': 'Value', value, required: true, autocomplete: 'off' }),
      h('button', { type: 'button', class: 'small', 'aria-label': 'Remove this condition', onclick: () => row.remove() }, '×'),
    );
    rows.append(row);
  };
  if (alarm) {
    addRow('device.id', '=', alarm.device?.id ?? '');
    addRow('title', '=', alarm.title ?? '');
  } else addRow();

  const zone = zoneLabel();
  const now = Date.now();
  const kind = h('fieldset', { class: 'kind' }, h('legend', {}, 'When'), radio('schedule', 'window', 'One-off window', true), radio('schedule', 'weekly', 'Every week'));
  const start = h('input', { type: 'datetime-local', name: 'startsAt', id: 'silence-start', value: instantToWall(now) });
  const end = h('input', { type: 'datetime-local', name: 'endsAt', id: 'silence-end', value: instantToWall(now + 2 * 3_600_000) });
  const windowPart = h('div', { class: 'window-part' }, h('label', {}, `From (${zone})`, start), h('label', {}, `Until (${zone})`, end));
  const days = h('div', { class: 'days' }, DAYS.map((d) => h('label', { class: 'day' }, h('input', { type: 'checkbox', name: 'day', value: d }), d)));
  const from = h('input', { type: 'time', name: 'from', id: 'weekly-from', value: '22:00' });
  const to = h('input', { type: 'time', name: 'to', id: 'weekly-to', value: '06:00' });
  const until = h('input', { type: 'datetime-local', name: 'until', id: 'weekly-until' });
  const weeklyPart = h('div', { class: 'weekly-part', hidden: true }, days, h('label', {}, `From (${zone})`, from), h('label', {}, 'To', to), h('label', {}, 'Stop after (optional)', until));
  kind.addEventListener('change', () => {
    const weekly = kind.querySelector('input:checked').value === 'weekly';
    weeklyPart.hidden = !weekly;
    windowPart.hidden = weekly;
  });
  const comment = h('input', { name: 'comment', id: 'silence-comment', required: true, placeholder: 'Why (shown in every muted alarm’s history)', maxlength: '1000', value: alarm ? `maintenance: ${alarm.device?.name ?? alarm.device?.id ?? ''}` : '' });
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const preview = h('div', { class: 'preview', id: 'silence-preview' });

  const input = () => {
    const matchers = [...rows.querySelectorAll('.matcher-row')].map((r) => `${r.querySelector('[name=field]').value}${r.querySelector('[name=operator]').value}${r.querySelector('[name=value]').value}`);
    const body = { matchers, comment: comment.value.trim() };
    if (kind.querySelector('input:checked').value === 'weekly') {
      const chosen = [...days.querySelectorAll('input:checked')].map((d) => d.value);
      body.weekly = { days: chosen, from: from.value, to: to.value, ...(until.value ? { until: until.value } : {}) };
    } else {
      if (start.value) body.startsAt = start.value;
      body.endsAt = end.value;
    }
    return body;
  };

  const form = h(
    'form',
    {
      class: 'card',
      id: 'silence-create',
      onsubmit: async (event) => {
        event.preventDefault();
        replace(status);
        try {
          await post('/silences', input());
          await done();
        } catch (error) {
          replace(status, note(`Not created: ${error.message}`, 'error'));
        }
      },
    },
    h('h2', {}, alarm ? `Silence alarms like “${alarm.title}”` : 'New silence'),
    h('p', { class: 'muted' }, 'Alarms that match all of these are recorded but not notified while the silence holds. Times are the gateway’s (', zone, ').'),
    rows,
    h('button', { type: 'button', class: 'small', onclick: () => addRow() }, 'Add condition'),
    kind,
    windowPart,
    weeklyPart,
    h('label', {}, 'Comment', comment),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'silence-submit' }, 'Create silence'),
      h('button', {
        type: 'button',
        id: 'silence-preview-button',
        onclick: async () => {
          try {
            const { alarms } = await post('/silences/preview', { matchers: input().matchers });
            replace(
              preview,
              h('p', {}, `${alarms.length} active ${alarms.length === 1 ? 'alarm matches' : 'alarms match'}`),
              h('ul', {}, alarms.map((a) => h('li', {}, severityBadge(a.severity), ' ', a.title, ` · ${deviceText(a.device)}`, a.mutedBy ? ` · muted now by ${a.mutedBy}` : ''))),
            );
          } catch (error) {
            replace(preview, note(error.message, 'error'));
          }
        },
      }, 'Preview'),
      h('a', { class: 'button', href: '#/silences' }, 'Cancel'),
    ),
    status,
    preview,
  );
  replace(box, form);
}

function radio(name, value, label, checked = false) {
  return h('label', { class: 'radio' }, h('input', { type: 'radio', name, value, checked }), ` ${label}`);
}
