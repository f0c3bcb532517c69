// Every time a person reads is shown in the gateway's zone (alarms.timeZone) with its label,
// whatever the browser's zone: the engineer on a phone abroad reads the plant's time.

let zone = { timeZone: 'UTC', locale: 'en-GB' };
const formatters = new Map();

export function setZone(timeZone, locale) {
  zone = { timeZone, locale };
  formatters.clear();
}

export function currentZone() {
  return zone;
}

function formatter(kind) {
  let f = formatters.get(kind);
  if (!f) {
    const time = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' };
    const options = kind === 'day' ? { day: 'numeric', month: 'short', year: 'numeric' } : kind === 'time' ? time : kind === 'seconds' ? { ...time, second: '2-digit' } : { weekday: 'short', day: 'numeric', month: 'short', ...time };
    f = new Intl.DateTimeFormat(zone.locale, { ...options, timeZone: zone.timeZone });
    formatters.set(kind, f);
  }
  return f;
}

function parts(kind, date) {
  return Object.fromEntries(formatter(kind).formatToParts(date).map((p) => [p.type, p.value]));
}

/** "14:03 CET" today, "Mon 30 Nov 14:03 CET" another day; '' for none. */
export function formatTime(value) {
  if (value === undefined || value === null || value === '') return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const p = parts('time', date);
  const clock = `${p.hour}:${p.minute} ${p.timeZoneName}`;
  if (sameDay(date, new Date())) return clock;
  const d = parts('full', date);
  return `${d.weekday} ${d.day} ${d.month} ${clock}`;
}

/** With seconds, for timelines: "14:03:27 CET". */
export function formatPrecise(value) {
  if (value === undefined || value === null || value === '') return '';
  const date = new Date(value);
  const p = parts('seconds', date);
  const clock = `${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
  if (sameDay(date, new Date())) return clock;
  const d = parts('full', date);
  return `${d.weekday} ${d.day} ${d.month} ${clock}`;
}

function sameDay(a, b) {
  return formatter('day').format(a) === formatter('day').format(b);
}

/** "3 min", "2 h 5 min", "4 d" between two instants. */
export function formatDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** A <time> element: the zoned text, the instant in its datetime attribute. */
export function timeNode(value, precise = false) {
  const t = document.createElement('time');
  if (value) t.dateTime = new Date(value).toISOString();
  t.textContent = precise ? formatPrecise(value) : formatTime(value);
  return t;
}

/** The offset of the gateway's zone at an instant, in ms (wall clock minus UTC). */
function offsetAt(ms) {
  const f = new Intl.DateTimeFormat('en-GB', { timeZone: zone.timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour) % 24, Number(p.minute), Number(p.second));
  return wall - Math.floor(ms / 1000) * 1000;
}

/** "2026-12-01T14:00" read as the gateway zone's wall clock -> epoch ms (a datetime-local input's value). */
export function wallToInstant(local) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(local ?? '');
  if (!m) return undefined;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  // Two passes find the offset in force at the instant itself (around a DST change).
  let guess = wall - offsetAt(wall);
  guess = wall - offsetAt(guess);
  return guess;
}

/** Epoch ms -> "2026-12-01T14:00" in the gateway's zone, for a datetime-local input. */
export function instantToWall(ms) {
  const shifted = new Date(ms + offsetAt(ms));
  return shifted.toISOString().slice(0, 16);
}

/** The zone's short label now ("CET"), for form hints. */
export function zoneLabel(value = Date.now()) {
  return parts('time', new Date(value)).timeZoneName;
}
