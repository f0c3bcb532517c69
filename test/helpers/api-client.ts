/**
 * A small client of API v1 over real HTTP, as a script or the console would talk to it:
 * JSON in and out, a session cookie and its CSRF token kept after `login`, or a bearer
 * token. Every call returns the status and the parsed body; nothing throws on 4xx/5xx.
 */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export interface ApiClient {
  readonly base: string;
  get<T = unknown>(path: string): Promise<ApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  put<T = unknown>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  delete<T = unknown>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  /** The session cookie (`name=value`) and CSRF token after a login through this client. */
  session: { cookie?: string; csrf?: string };
}

/** `base` is the server's origin (`http://127.0.0.1:PORT`); paths are under `/api/v1`. */
export function apiClient(base: string, options: { token?: string } = {}): ApiClient {
  const session: ApiClient['session'] = {};
  const call = async <T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { accept: 'application/json', ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (session.cookie) headers.cookie = session.cookie;
    if (session.csrf && method !== 'GET' && !('x-csrf-token' in extra)) headers['x-csrf-token'] = session.csrf;
    const response = await fetch(`${base}/api/v1${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('annunciator_session='));
    if (cookie) session.cookie = cookie.split(';')[0];
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    if (path === '/login' && response.status === 200) session.csrf = (parsed as { csrfToken?: string }).csrfToken;
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
  return {
    base,
    session,
    get: (path) => call('GET', path),
    post: (path, body, headers) => call('POST', path, body ?? {}, headers),
    put: (path, body, headers) => call('PUT', path, body ?? {}, headers),
    delete: (path, headers) => call('DELETE', path, undefined, headers),
  };
}
