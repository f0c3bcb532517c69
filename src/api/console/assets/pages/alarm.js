// One alarm: what it is, its timeline (raised, repeats, notifications and their delivery,
// escalation levels, acknowledgements, comments, resolve) and what can be done to it.
import { get, post } from '../api.js';
import { facts, h, note, replace } from '../dom.js';
import { subscribe, throttle } from '../live.js';
import { formatDuration, timeNode } from '../time.js';
import { deviceText, heading, may, severityBadge } from './common.js';

const OUTCOMES = {
  raised: 'raised',
  'repeat-folded': 'repeat',
  reminder: 'reminder',
  resolved: 'resolved',
  suppressed: 'suppressed',
  silenced: 'muted by a silence',
  inhibited: 'inhibited',
  unmuted: 'no longer muted',
  escalated: 'escalated',
  'escalation-stopped': 'escalation stopped',
  'ack-announced': 'acknowledgement announced',
  acknowledged: 'acknowledged',
  unacknowledged: 'acknowledgement withdrawn',
  commented: 'comment',
};

export async function render(main, route, session) {
  const id = route.args[0];
  // The parts a live update redraws; the comment being typed and the focus stay put.
  const headBox = h('div', {});
  const summaryBox = h('div', {});
  const buttonsBox = h('div', { class: 'buttons' });
  const timelineBox = h('div', {});
  const status = h('span', { class: 'action-status', 'aria-live': 'polite' });
  const comment = h('input', { id: 'alarm-comment', name: 'comment', placeholder: 'Comment', maxlength: '1000', autocomplete: 'off' });
  const canAct = may(session, 'responder');
  const view = h(
    'div',
    { class: 'alarm-page' },
    h('p', {}, h('a', { href: '#/' }, '← Alarms')),
    headBox,
    summaryBox,
    canAct ? h('form', { class: 'alarm-actions', onsubmit: (e) => e.preventDefault() }, comment, buttonsBox, status) : null,
    h('h2', {}, 'Timeline'),
    timelineBox,
  );
  replace(main, view);

  // Reads may overlap; only the latest one's answer is drawn.
  let latest = 0;
  async function refresh() {
    const mine = ++latest;
    let body;
    try {
      body = await get(`/alarms/${encodeURIComponent(id)}`);
      if (mine !== latest) return;
    } catch (error) {
      if (error.status === 401) return;
      replace(view, heading('Alarm'), note(error.status === 404 ? `There is no alarm ${id}.` : `Could not read the alarm: ${error.message}`, 'error'), h('a', { href: '#/' }, 'To the board'));
      return;
    }
    draw(body);
  }

  function draw(body) {
    const alarm = body.alarm;
    const ack = alarm.ack;
    const device = alarm.device;
    const head = heading(alarm.title);
    head.prepend(severityBadge(alarm.severity));
    replace(headBox, head);
    replace(
      summaryBox,
      facts([
        ['State', alarm.state],
        ['Device', deviceText(device)],
        ['Device id', device.id],
        ['Count', alarm.count],
        ['First seen', timeNode(alarm.firstSeen)],
        ['Last seen', timeNode(alarm.lastSeen)],
        ['Resolved', alarm.resolvedAt ? h('span', {}, timeNode(alarm.resolvedAt), ` after ${formatDuration(Date.parse(alarm.resolvedAt) - Date.parse(alarm.firstSeen))}`) : undefined],
        ['Value', alarm.value !== null ? `${alarm.value}${alarm.unit ? ` ${alarm.unit}` : ''}` : undefined],
        ['Acknowledged', ack ? h('span', {}, `by ${ack.by} at `, timeNode(ack.at), ` (${ack.channel})`, ack.comment ? `: ${ack.comment}` : '') : 'not yet'],
        ['Muted', alarm.muted ? alarm.muted.reason : undefined],
        ['Receivers', alarm.receivers.join(', ')],
        ['Rules', alarm.rules.join(', ')],
        ['Description', alarm.description],
        ['Text', alarm.text ? h('pre', { class: 'alarm-text' }, alarm.text) : undefined],
        ['', alarm.textCut ? h('span', { class: 'muted' }, `The first ${alarm.textCut.shownBytes} of ${alarm.textCut.totalBytes} bytes the device sent.`) : undefined],
      ]),
    );
    if (canAct) replace(buttonsBox, buttons(alarm));
    replace(timelineBox, timeline(body));
  }

  function buttons(alarm) {
    const act = (label, run, attrs = {}) =>
      h('button', {
        type: 'button',
        ...attrs,
        onclick: async (event) => {
          event.target.disabled = true;
          replace(status);
          try {
            await run();
            comment.value = '';
            await refresh();
          } catch (error) {
            replace(status, note(`${label}: ${error.message}`, 'error'));
            event.target.disabled = false;
          }
        },
      }, label);
    const text = () => comment.value.trim();
    const list = [];
    if (alarm.state !== 'resolved' && !alarm.ack) {
      list.push(act('Acknowledge', () => post(`/alarms/${encodeURIComponent(alarm.id)}/acknowledge`, text() ? { comment: text() } : {}), { class: 'primary', id: 'alarm-ack' }));
    }
    if (alarm.ack && alarm.state !== 'resolved') {
      list.push(act('Withdraw acknowledgement', () => post(`/alarms/${encodeURIComponent(alarm.id)}/unacknowledge`, text() ? { comment: text() } : {}), { id: 'alarm-unack' }));
    }
    list.push(
      act(
        'Add comment',
        () => {
          if (!text()) throw new Error('write a comment first');
          return post(`/alarms/${encodeURIComponent(alarm.id)}/comments`, { text: text() });
        },
        { id: 'alarm-add-comment' },
      ),
    );
    list.push(h('a', { class: 'button', id: 'alarm-silence', href: `#/silences/new?alarm=${encodeURIComponent(alarm.id)}` }, 'Silence like this…'));
    return list;
  }

  const later = throttle(refresh, 400);
  const stop = subscribe((name, data) => {
    if (name === 'ready' || data?.alarmId === id || data?.alarm?.id === id || (Array.isArray(data?.alarmIds) && data.alarmIds.includes(id))) later();
  });
  await refresh();
  return stop;
}

/** The alarm's history (raised, repeats, escalations, acknowledgements, comments, resolve) and its notifications with their delivery, oldest first. */
function timeline(body) {
  const entries = [];
  for (const entry of body.history ?? []) {
    entries.push({ at: entry.at, kind: entry.outcome, label: OUTCOMES[entry.outcome] ?? entry.outcome, detail: entry.reason });
  }
  for (const n of body.notifications ?? []) {
    entries.push({ at: n.createdAt, kind: 'notification', label: `notification${n.kind ? ` (${n.kind})` : ''}`, detail: n.recipients.length ? `to ${n.recipients.join(', ')}` : '', delivery: n });
  }
  entries.sort((a, b) => new Date(a.at) - new Date(b.at));
  if (entries.length === 0) return note('Nothing recorded yet.');
  return h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    entries.map((e) =>
      h(
        'li',
        { class: `tl tl-${String(e.kind).replace(/[^a-z-]/g, '')}` },
        h('span', { class: 'tl-time' }, timeNode(e.at, true)),
        h('span', { class: 'tl-label' }, e.label),
        e.detail ? h('span', { class: 'tl-detail' }, e.detail) : null,
        e.delivery ? deliveryState(e.delivery) : null,
      ),
    ),
  );
}

/** sent at, via which account; or waiting (next try) / failed, with the last error. */
function deliveryState(n) {
  const parts = [h('span', { class: `delivery delivery-${n.status}` }, n.status)];
  if (n.sentAt) parts.push(' at ', timeNode(n.sentAt, true));
  if (n.lastAccount) parts.push(` via ${n.lastAccount}`);
  if (n.attempts > 1) parts.push(` after ${n.attempts} attempts`);
  if (n.rejectedRecipients?.length) parts.push(h('span', { class: 'tl-error' }, ` · refused for ${n.rejectedRecipients.join(', ')}`));
  if (n.lastError && n.status !== 'sent') parts.push(h('span', { class: 'tl-error' }, ` · ${n.lastError}`));
  if (n.nextAttemptAt) parts.push(' · next try ', timeNode(n.nextAttemptAt));
  return h('span', { class: 'tl-delivery' }, parts);
}
