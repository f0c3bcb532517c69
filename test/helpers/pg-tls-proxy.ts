import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, type SecureVersion } from 'node:tls';

/** PostgreSQL's SSLRequest: length 8, then the code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * A PostgreSQL server with TLS, for tests, in front of the local one (which has none): it
 * answers a client's SSLRequest with 'S', completes a real TLS handshake with the given
 * certificate, and relays the decrypted protocol to `target` in plain. What the client
 * checks (CA, pin, host name, version) is checked against a real handshake.
 */
export async function startPgTlsProxy(options: { key: string; cert: string; target: { host: string; port: number }; maxVersion?: SecureVersion }): Promise<{ port: number; handshakes: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let handshakes = 0;
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.once('data', (first) => {
      if (!first.subarray(0, 8).equals(SSL_REQUEST)) {
        client.destroy();
        return;
      }
      client.write('S');
      const secure = new TLSSocket(client, { isServer: true, key: options.key, cert: options.cert, ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}) });
      secure.on('error', () => client.destroy());
      secure.on('secure', () => {
        handshakes += 1;
      });
      const upstream = createConnection(options.target);
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        secure.destroy();
      });
      upstream.on('error', () => undefined);
      secure.on('close', () => upstream.destroy());
      secure.pipe(upstream).pipe(secure);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    handshakes: () => handshakes,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
