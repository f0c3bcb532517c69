import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { createCa } from '../helpers/certs.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { heldPort } from '../helpers/free-port.js';
import { baseConfig, testDir } from '../helpers/gateway.js';
import { killHard, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

describe('nothing the gateway said 250 to is lost to kill -9', () => {
  const dir = testDir();
  const ca = createCa();
  const running: GatewayProcess[] = [];
  const upstreams: Upstream[] = [];
  /** Held ports, released here too when a test fails before it released them (a second release does nothing). */
  const held: Array<{ release(): Promise<void> }> = [];

  after(async () => {
    for (const g of running) if (g.child.exitCode === null) await killHard(g);
    for (const u of upstreams) await u.close();
    for (const h of held) await h.release();
    dir.remove();
  });

  /**
   * The gateway's port stays held (no other test file can take it) until `release()`, which
   * the test calls right before the first gateway binds it.
   */
  async function setup(upstreamPort: number): Promise<{ configFile: string; gatewayPort: number; release(): Promise<void> }> {
    const port = await heldPort();
    held.push(port);
    const gatewayPort = port.port;
    const raw = baseConfig(dir, {
      listener: { port: gatewayPort },
      delivery: {
        accounts: [{ name: 'provider', host: 'localhost', port: upstreamPort, security: 'tls', auth: { user: 'alarms@example.com', password: { env: 'PW' } }, tls: { ca: [dir.write('ca.pem', ca.cert)] } }],
      },
    });
    (raw.log as Record<string, unknown>).level = 'info';
    return { configFile: dir.write(`gateway-${gatewayPort}.yaml`, stringify(raw)), gatewayPort, release: port.release };
  }

  it('delivers after a restart a mail accepted while the upstream was down, exactly once', async () => {
    // The upstream is down: its port is held, every connection to it cut at once.
    const down = await heldPort();
    held.push(down);
    const upstreamPort = down.port;
    const { configFile, gatewayPort, release } = await setup(upstreamPort);
    await release();
    const first = await spawnGateway(configFile, { PW: 'pw' });
    running.push(first);
    const result = await sendAsDevice({ port: gatewayPort, mailFrom: 'plc@plant.local', rcptTo: ['oncall@example.com'], data: Buffer.from('Subject: E-stop line 4\r\n\r\nEmergency stop pressed.\r\n') });
    assert.match(result.dataReply ?? '', /^250 /);
    await killHard(first);

    await down.release();
    const upstream = await startUpstream({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: 'pw' } }, upstreamPort);
    upstreams.push(upstream);
    const second = await spawnGateway(configFile, { PW: 'pw' });
    running.push(second);
    const [message] = await upstream.waitForMessages(1);
    assert.equal(message?.parsed.subject, 'E-stop line 4');
    // Let the restarted gateway run its queue a few more times: no second copy may appear.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(upstream.messages.length, 1);
    await killHard(second);
  });

  it('delivers every mail of a burst when killed right after the last 250', async () => {
    const upstream = await startUpstream({ security: 'tls', tls: ca.issue('localhost'), auth: { user: 'alarms@example.com', pass: 'pw' } });
    upstreams.push(upstream);
    const { configFile, gatewayPort, release } = await setup(upstream.port);
    await release();
    const first = await spawnGateway(configFile, { PW: 'pw' });
    running.push(first);
    const subjects = Array.from({ length: 20 }, (_, i) => `burst alarm ${i}`);
    await Promise.all(
      subjects.map(async (subject) => {
        const r = await sendAsDevice({ port: gatewayPort, mailFrom: 'plc@plant.local', rcptTo: ['oncall@example.com'], data: Buffer.from(`Subject: ${subject}\r\n\r\nx\r\n`) });
        assert.match(r.dataReply ?? '', /^250 /);
      }),
    );
    await killHard(first);
    const second = await spawnGateway(configFile, { PW: 'pw' });
    running.push(second);
    const got = new Set<string>();
    const deadline = Date.now() + 15_000;
    while (got.size < subjects.length && Date.now() < deadline) {
      await upstream.waitForMessages(upstream.messages.length + 1, deadline - Date.now()).catch(() => undefined);
      for (const m of upstream.messages) got.add(m.parsed.subject ?? '');
    }
    assert.deepEqual([...got].sort(), [...subjects].sort());
    await killHard(second);
  });
});
