// The active-alarm board: filters, severity colours, live updates, acknowledging one or many with a comment.
import { get, post, query } from '../api.js';
import { h, note, replace } from '../dom.js';
import { subscribe, throttle } from '../live.js';
import { formatDuration, timeNode } from '../time.js';
import { SEVERITIES, deviceText, heading, may, severityBadge } from './common.js';

const FILTERS = ['severity', 'device', 'site', 'text', 'acknowledged'];

export async function render(main, route, session) {
  const filter = Object.fromEntries(FILTERS.map((k) => [k, route.params.get(k) ?? '']));
  const selected = new Set();
  let alarms = [];
  let loadedOnce = false;
  let more = false;
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

  // Reads may overlap in a flood; only the latest one's answer is drawn.
  let latest = 0;
  async function refresh() {
    const mine = ++latest;
    try {
      const params = { state: 'active', ...filter, severity: filter.severity || undefined, acknowledged: filter.acknowledged || undefined, limit: 500 };
      const body = await get(`/alarms${query(params)}`);
      if (mine !== latest) return;
      alarms = body.alarms;
      more = body.next !== null;
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
    count.textContent = more ? `first ${alarms.length} shown` : `${alarms.length} shown`;
    if (alarms.length === 0) {
      replace(list, h('li', { class: 'empty' }, Object.values(filter).some(Boolean) ? 'No active alarm matches these filters.' : 'No active alarms.'));
    } else {
      replace(list, alarms.map(row));
    }
    updateBar();
  }

  function row(alarm) {
    const ack = alarm.ack;
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
    const muted = alarm.muted ? h('span', { class: 'muted-flag', title: alarm.muted.reason }, ' · muted') : null;
    const state = ack
      ? h('span', { class: 'acked' }, `ack ${ack.by}`, ack.comment ? h('span', { class: 'ack-comment' }, `: ${ack.comment}`) : null, muted)
      : h('span', { class: 'unacked' }, 'not acknowledged', muted);
    return h(
      'li',
      { class: `alarm sev-row-${alarm.severity}${ack ? ' is-acked' : ''}`, dataset: { id: alarm.id } },
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
      const { results } = await post('/alarms/acknowledge', { ids, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) });
      const recorded = results.filter((r) => r.outcome === 'recorded').length;
      const already = results.filter((r) => r.outcome === 'already');
      const gone = results.filter((r) => r.outcome === 'unknown').length;
      replace(
        ackStatus,
        `Acknowledged ${recorded}.`,
        already.length ? ` ${already.length} already by ${[...new Set(already.map((r) => r.ack?.by))].join(', ')}.` : '',
        gone ? ` ${gone} no longer there.` : '',
      );
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
    input('device', 'Device id'),
    input('site', 'Site'),
    input('text', 'Text', { placeholder: 'in the title or text' }),
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
