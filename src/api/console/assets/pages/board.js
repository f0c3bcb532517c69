// The active-alarm board: filters, severity colours, live updates, acknowledging one or many with a comment.
import { get, listOf, post, query } from '../api.js';
import { h, note, replace } from '../dom.js';
import { subscribe, throttle } from '../live.js';
import { formatDuration, timeNode } from '../time.js';
import { SEVERITIES, ackOf, deviceText, heading, isAcknowledged, may, severityBadge } from './common.js';

const FILTERS = ['severity', 'device', 'site', 'text', 'acknowledged'];

export async function render(main, route, session) {
  const filter = Object.fromEntries(FILTERS.map((k) => [k, route.params.get(k) ?? '']));
  const selected = new Set();
  let alarms = [];
  let loadedOnce = false;
  const canAck = may(session, 'responder');

  const list = h('ul', { class: 'alarms', id: 'alarm-list', 'aria-live': 'polite' });
  const status = h('div', { class: 'board-status', 'aria-live': 'polite' });
  const count = h('span', { class: 'count' });
  const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all shown alarms', onchange: () => toggleAll(selectAll.checked) });
  const comment = h('input', { id: 'ack-comment', name: 'comment', placeholder: 'Comment (what you will do)', maxlength: '1000', autocomplete: 'off' });
  const ackButton = h('button', { type: 'submit', class: 'primary', id: 'ack-selected' }, 'Acknowledge');
  const ackStatus = h('span', { class: 'ack-status', 'aria-live': 'polite' });
  const ackBar = h('form', { class: 'ack-bar', hidden: true, onsubmit: acknowledgeSelected }, h('span', { class: 'selected-count' }), comment, ackButton, ackStatus);

  const controls = filterControls(filter, () => {
    const search = query(filter);
    history.replaceState(null, '', `#/${search}`);
    refresh();
  });

  replace(main, heading('Active alarms', count), controls, status, h('div', { class: 'list-head' }, canAck ? h('label', { class: 'select-all' }, selectAll, ' Select all') : null), list, canAck ? ackBar : null);

  async function refresh() {
    try {
      const params = { state: 'active', ...filter, severity: filter.severity || undefined, acknowledged: filter.acknowledged || undefined, limit: 500 };
      const body = await get(`/alarms${query(params)}`);
      alarms = listOf(body, 'alarms').filter((a) => matchesLocally(a, filter));
      loadedOnce = true;
      replace(status);
      draw();
    } catch (error) {
      if (error.status === 401) return;
      replace(status, note(`Could not read the alarms: ${error.message}${loadedOnce ? ' (showing the last list)' : ''}`, 'error'));
    }
  }

  function draw() {
    for (const id of [...selected]) if (!alarms.some((a) => a.id === id)) selected.delete(id);
    count.textContent = `${alarms.length} shown`;
    if (alarms.length === 0) {
      replace(list, h('li', { class: 'empty' }, Object.values(filter).some(Boolean) ? 'No active alarm matches these filters.' : 'No active alarms.'));
    } else {
      replace(list, alarms.map(row));
    }
    updateBar();
  }

  function row(alarm) {
    const ack = ackOf(alarm);
    const check = canAck
      ? h('input', {
          type: 'checkbox',
          class: 'select',
          'aria-label': `Select ${alarm.title}`,
          checked: selected.has(alarm.id),
          onchange: (e) => {
            if (e.target.checked) selected.add(alarm.id);
            else selected.delete(alarm.id);
            updateBar();
          },
        })
      : null;
    const muted = alarm.muted || alarm.mutedBy ? h('span', { class: 'muted-flag' }, ' · muted') : null;
    const state = isAcknowledged(alarm)
      ? h('span', { class: 'acked' }, `ack ${ack?.by ?? ''}`.trim(), ack?.comment ? h('span', { class: 'ack-comment' }, `: ${ack.comment}`) : null, muted)
      : h('span', { class: 'unacked' }, 'not acknowledged', muted);
    return h(
      'li',
      { class: `alarm sev-row-${alarm.severity}${isAcknowledged(alarm) ? ' is-acked' : ''}`, dataset: { id: alarm.id } },
      check,
      severityBadge(alarm.severity),
      h('a', { class: 'title', href: `#/alarms/${encodeURIComponent(alarm.id)}` }, alarm.title ?? alarm.id),
      h('span', { class: 'device' }, deviceText(alarm.device)),
      h('span', { class: 'seen' }, alarm.count > 1 ? `${alarm.count}× · ` : '', 'last ', timeNode(alarm.lastSeen), alarm.firstSeen ? ` · for ${formatDuration(Date.now() - new Date(alarm.firstSeen).getTime())}` : ''),
      state,
    );
  }

  function toggleAll(on) {
    selected.clear();
    if (on) for (const a of alarms) selected.add(a.id);
    for (const box of list.querySelectorAll('input.select')) box.checked = on;
    updateBar();
  }

  function updateBar() {
    ackBar.hidden = selected.size === 0;
    ackBar.querySelector('.selected-count').textContent = `${selected.size} selected`;
    ackButton.textContent = selected.size > 1 ? `Acknowledge ${selected.size}` : 'Acknowledge';
    selectAll.checked = alarms.length > 0 && selected.size === alarms.length;
  }

  async function acknowledgeSelected(event) {
    event.preventDefault();
    const ids = [...selected];
    if (ids.length === 0) return;
    ackButton.disabled = true;
    replace(ackStatus);
    try {
      await post('/alarms/acknowledge', { ids, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) });
      replace(ackStatus, `Acknowledged ${ids.length}.`);
      selected.clear();
      comment.value = '';
      await refresh();
    } catch (error) {
      replace(ackStatus, note(`Not acknowledged: ${error.message}`, 'error'));
    } finally {
      ackButton.disabled = false;
    }
  }

  const later = throttle(refresh, 400);
  const stop = subscribe((name) => {
    if (name === 'ready' || name === 'alarm-changed' || name === 'acknowledged') later();
  });
  await refresh();
  return stop;
}

function filterControls(filter, changed) {
  const input = (key, label, attrs = {}) => {
    const element = h('input', { id: `filter-${key}`, name: key, value: filter[key], type: 'search', autocomplete: 'off', ...attrs });
    element.addEventListener('input', throttleInput(() => {
      filter[key] = element.value.trim();
      changed();
    }));
    return h('label', {}, h('span', {}, label), element);
  };
  const select = (key, label, options) => {
    const element = h('select', { id: `filter-${key}`, name: key }, options.map(([value, text]) => h('option', { value, selected: filter[key] === value }, text)));
    element.addEventListener('change', () => {
      filter[key] = element.value;
      changed();
    });
    return h('label', {}, h('span', {}, label), element);
  };
  // Folded on a phone unless a filter is set: the alarms come first on a small screen.
  const open = Object.values(filter).some(Boolean) || window.matchMedia('(min-width: 721px)').matches;
  return h(
    'details',
    { class: 'filter-box', open },
    h('summary', {}, 'Filters'),
    h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
    select('severity', 'Severity', [['', 'any'], ...SEVERITIES.map((s) => [s, s])]),
    select('acknowledged', 'Acknowledged', [['', 'any'], ['false', 'not yet'], ['true', 'acknowledged']]),
    input('device', 'Device'),
    input('site', 'Site'),
    input('text', 'Text', { placeholder: 'title, text, device' }),
    ),
  );
}

function throttleInput(fn) {
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, 250);
  };
}

/** The filters again on this side, so the board shows what they say whichever of them the API applies. */
function matchesLocally(alarm, filter) {
  const has = (value, wanted) => String(value ?? '').toLowerCase().includes(wanted.toLowerCase());
  if (alarm.state && alarm.state !== 'active') return false;
  if (filter.severity && alarm.severity !== filter.severity) return false;
  if (filter.acknowledged === 'true' && !isAcknowledged(alarm)) return false;
  if (filter.acknowledged === 'false' && isAcknowledged(alarm)) return false;
  if (filter.device && !has(alarm.device?.id, filter.device) && !has(alarm.device?.name, filter.device)) return false;
  if (filter.site && !has(alarm.device?.site, filter.site)) return false;
  if (filter.text && ![alarm.title, alarm.text, alarm.device?.name, alarm.device?.id].some((v) => has(v, filter.text))) return false;
  return true;
}
