// Live updates: GET /api/v1/events (server-sent events). The browser reconnects by itself;
// events missed meanwhile are not replayed, so every `ready` (the first event of each
// connection) tells the pages to read their state again.

const handlers = new Set();
let source;
let indicator;
let retry;
let retryDelay = 2000;
/** Set by the app: a request that answers 401 shows the login page (api.js), anything else resolves or rejects. */
let probe = async () => undefined;

export function setProbe(fn) {
  probe = fn;
}

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
    retryDelay = 2000;
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
    // CONNECTING: the browser retries by itself. CLOSED: an answer other than a stream (a
    // 401 when the login ended, a proxy's 502): ask the API, which shows the login page on
    // a 401, and else try again, waiting longer each time (at most 30 s).
    if (source?.readyState !== EventSource.CLOSED) {
      show('retry', 'reconnecting');
      return;
    }
    source = undefined;
    show('retry', 'reconnecting');
    clearTimeout(retry);
    retry = setTimeout(async () => {
      try {
        await probe();
        connect(indicator);
      } catch (error) {
        if (error?.status === 401) return;
        retryDelay = Math.min(retryDelay * 2, 30_000);
        connect(indicator);
      }
    }, retryDelay);
  });
}

export function disconnect() {
  clearTimeout(retry);
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
