import { after, before, describe, it } from 'node:test';
import { configFrom, eventually, runGateway, type RunningGateway } from '../helpers/gateway.js';
import { startTestBroker, type TestBroker } from '../helpers/mqtt-broker.js';
import { mqttExampleHarness, type MqttHarness } from '../helpers/mqtt-example.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/** annunciator_mqtt_connected follows the broker connection: 1 while subscribed, 0 when the broker is gone. */
describe('/metrics: MQTT broker connection state', () => {
  let broker: TestBroker;
  let upstream: Upstream;
  let harness: MqttHarness;
  let gateway: RunningGateway;
  const connected = async (): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${gateway.http!.address().port}/metrics`)).text();
    const name = (harness.raw.mqtt as Array<{ name: string }>)[0]!.name;
    const match = new RegExp(`^annunciator_mqtt_connected\\{broker="${name}"\\} (\\d)$`, 'm').exec(text);
    return match ? Number(match[1]) : undefined;
  };

  before(async () => {
    broker = await startTestBroker({ restartable: true });
    upstream = await startUpstream({ security: 'none' });
    harness = mqttExampleHarness(broker.url, upstream.port);
    gateway = await runGateway(configFrom(harness.dir, { ...harness.raw, http: { listen: { address: '127.0.0.1', port: 0 } } }));
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    await broker?.stop();
    harness?.dir.remove();
  });

  it('is 1 once connected and subscribed, 0 when the broker is gone', async () => {
    await eventually(async () => (await connected()) === 1, 10_000, 'connected = 1');
    await broker.stop();
    await eventually(async () => (await connected()) === 0, 10_000, 'connected = 0 after the broker stopped');
  });
});
