// Live updates: GET /api/v1/events (server-sent events). The browser reconnects by itself;
// events missed meanwhile are not replayed, so every `ready` (the first event of each
// connection) tells the pages to read their state again.

const handlers = new Set();
let source;
let indicator;

/** fn(name, data) hears every event; `ready` means "read afresh". Returns a function that stops it. */
export function subscribe(fn) {
  handlers.add(fn);
  return () => handlers.delete(fn);
}

function dispatch(name, data) {
  for (const fn of [...handlers]) {
    try {
      fn(name, data);
    } catch (error) {
      console.error('live update handler failed', error);
    }
  }
}

function show(state, text) {
  if (!indicator) return;
  indicator.dataset.state = state;
  indicator.textContent = text;
}

const EVENTS = ['alarm-changed', 'acknowledged', 'held', 'queued', 'delivered', 'deferred', 'failed'];

export function connect(indicatorElement) {
  indicator = indicatorElement;
  if (source) return;
  source = new EventSource('/api/v1/events');
  source.addEventListener('ready', () => {
    show('on', 'live');
    dispatch('ready', {});
  });
  for (const name of EVENTS) {
    source.addEventListener(name, (event) => {
      let data = {};
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      dispatch(name, data);
    });
  }
  source.addEventListener('error', () => {
    // CLOSED: the server refused (401 after a logout); CONNECTING: the browser retries.
    if (source?.readyState === EventSource.CLOSED) {
      show('off', 'offline');
      source = undefined;
    } else show('retry', 'reconnecting');
  });
}

export function disconnect() {
  source?.close();
  source = undefined;
  show('off', 'offline');
}

/** Calls fn at most once per `ms`, and once more after the last call: a flood of events gives a refresh every `ms`, not one per event. */
export function throttle(fn, ms) {
  let timer;
  let again = false;
  return () => {
    if (timer) {
      again = true;
      return;
    }
    fn();
    timer = setTimeout(function tick() {
      if (again) {
        again = false;
        fn();
        timer = setTimeout(tick, ms);
      } else timer = undefined;
    }, ms);
  };
}
