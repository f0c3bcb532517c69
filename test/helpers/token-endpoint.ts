import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenEndpoint {
  url: string;
  requests: URLSearchParams[];
  /** The access token most recently issued. */
  currentToken(): string;
  close(): Promise<void>;
}

/** An OAuth2 token endpoint on loopback that trades a known refresh token for access tokens. */
export async function startTokenEndpoint(expected: { clientId: string; clientSecret: string; refreshToken: string }): Promise<TokenEndpoint> {
  const requests: URLSearchParams[] = [];
  let issued = 0;
  let token = '';
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      requests.push(params);
      const ok =
        req.method === 'POST' &&
        params.get('grant_type') === 'refresh_token' &&
        params.get('refresh_token') === expected.refreshToken &&
        params.get('client_id') === expected.clientId &&
        params.get('client_secret') === expected.clientSecret;
      res.setHeader('content-type', 'application/json');
      if (!ok) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'invalid_grant' }));
        return;
      }
      issued += 1;
      token = `ya29.test-access-token-${issued}`;
      res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3599 }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    requests,
    currentToken: () => token,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
