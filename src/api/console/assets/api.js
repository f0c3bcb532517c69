// The console's one door to API v1: JSON in and out, the session cookie sent by the browser,
// the CSRF token (from the login) on every unsafe request, and a 401 turned into the login page.

const CSRF_KEY = 'annunciator.csrf';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};

/** What to do when the API says nobody is logged in (show the login page). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

export function csrfToken() {
  return sessionStorage.getItem(CSRF_KEY) ?? undefined;
}

export function setCsrfToken(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

/** Calls `METHOD /api/v1PATH`; resolves with the parsed body, rejects with an ApiError ({ error } of the API). */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const token = csrfToken();
  if (token && method !== 'GET') headers['x-csrf-token'] = token;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', cache: 'no-store', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'the gateway cannot be reached');
  }
  const text = await response.text();
  let parsed = text;
  if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (response.status === 401 && path !== '/login') {
    onUnauthorized();
  }
  if (!response.ok) {
    const message = parsed && typeof parsed === 'object' && typeof parsed.error === 'string' ? parsed.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return parsed;
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const del = (path) => api('DELETE', path);

/** `?a=1&b=x` from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') search.set(k, String(v));
  const s = search.toString();
  return s ? `?${s}` : '';
}

/** Logs in; keeps the CSRF token the gateway returned for this tab. */
export async function login(name, password) {
  const body = await post('/login', { name, password });
  setCsrfToken(body?.csrfToken);
  return body;
}

export async function logout() {
  try {
    await post('/logout');
  } finally {
    setCsrfToken(undefined);
  }
}
