import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  BROKER_ENV_VAR,
  describeBrokerChoice,
  findMosquittoBinary,
  probeMosquittoService,
  probeMqtt,
  startTestBroker,
  type BrokerKind,
  type ForcedBroker,
  type TestBroker,
} from '../helpers/mqtt-broker.js';
import { peerGate, type PeerGate } from '../helpers/real-peers.js';

const WAIT_MS = 5_000;
const TEST_TIMEOUT_MS = 30_000;

const serviceProbe = await probeMosquittoService();
const mosquittoBinary = findMosquittoBinary();

const unique = (label: string) => `annunciator-test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;

interface Received {
  topic: string;
  payload: string;
}

interface TestClient {
  client: MqttClient;
  sessionPresent: boolean;
  messages: Received[];
  waitForMessages(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** Connects (no automatic reconnects) and collects every message from the first packet on; all waits bounded. */
async function openClient(url: string, options: IClientOptions): Promise<TestClient> {
  const client = connect(url, { connectTimeout: WAIT_MS, reconnectPeriod: 0, keepalive: 10, ...options });
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload) => {
    messages.push({ topic, payload: payload.toString() });
    for (const wake of waiters) wake();
  });
  const close = async () => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, 2_000);
      client.end(false, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  };
  let sessionPresent = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CONNACK from ${url} within ${WAIT_MS} ms`)), WAIT_MS);
      client.once('connect', (connack) => {
        clearTimeout(timer);
        sessionPresent = connack.sessionPresent;
        resolve();
      });
      client.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      client.once('close', () => {
        clearTimeout(timer);
        reject(new Error(`connection to ${url} closed before CONNACK`));
      });
    });
  } catch (error) {
    client.end(true);
    throw error;
  }
  return {
    client,
    sessionPresent,
    messages,
    close,
    waitForMessages(count, timeoutMs = WAIT_MS) {
      return new Promise<Received[]>((resolve, reject) => {
        const check = () => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(messages.slice());
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}: ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

async function publishQos1(url: string, topic: string, payloads: string[]): Promise<void> {
  const publisher = await openClient(url, { clientId: unique('pub'), clean: true });
  try {
    for (const payload of payloads) {
      // Resolves on PUBACK: the broker has taken responsibility for the message.
      await withTimeout(publisher.client.publishAsync(topic, payload, { qos: 1 }), WAIT_MS, `PUBACK for ${payload}`);
    }
  } finally {
    await publisher.close();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Makes a persistent session with a QoS 1 subscription and leaves it offline. */
async function createOfflineSession(url: string, clientId: string, topic: string): Promise<void> {
  const subscriber = await openClient(url, { clientId, clean: false });
  try {
    const granted = await withTimeout(subscriber.client.subscribeAsync(topic, { qos: 1 }), WAIT_MS, 'SUBACK');
    assert.equal(granted[0]?.qos, 1);
  } finally {
    await subscriber.close();
  }
}

/** Ends a persistent session so nothing is left behind on a shared broker. */
async function discardSession(url: string, clientId: string): Promise<void> {
  try {
    const cleaner = await openClient(url, { clientId, clean: true });
    await cleaner.close();
  } catch {
    // the broker may already be stopped
  }
}

// Skipped, saying why, when the service or the binary is missing; under CI (CI=true, where
// .ci/run installs mosquitto and starts the service) a missing one fails instead.
const kinds: Array<{ kind: BrokerKind; force: ForcedBroker; gate: PeerGate }> = [
  {
    kind: 'mosquitto-service',
    force: 'service',
    gate: peerGate(serviceProbe.ok ? false : `no MQTT service on 127.0.0.1:1883 (${serviceProbe.reason})`),
  },
  { kind: 'mosquitto-spawned', force: 'mosquitto', gate: peerGate(mosquittoBinary === undefined ? 'no mosquitto binary on this machine' : false) },
  { kind: 'aedes', force: 'aedes', gate: peerGate(false) },
];

for (const { kind, force, gate } of kinds) {
  describe(`test MQTT broker: ${kind}`, { skip: gate.skip, timeout: 120_000 }, () => {
    let broker: TestBroker;

    before(async () => {
      gate.assertPresent();
      broker = await startTestBroker({ force });
    });
    after(async () => {
      await broker?.stop();
    });

    it('is the kind that was asked for, on a loopback URL', () => {
      assert.equal(broker.kind, kind);
      assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
    });

    it('round-trips a QoS 1 publish to a QoS 1 subscriber', { timeout: TEST_TIMEOUT_MS }, async () => {
      const topic = unique('roundtrip');
      const subscriber = await openClient(broker.url, { clientId: unique('sub'), clean: true });
      try {
        await withTimeout(subscriber.client.subscribeAsync(topic, { qos: 1 }), WAIT_MS, 'SUBACK');
        await publishQos1(broker.url, topic, ['hello']);
        const [message] = await subscriber.waitForMessages(1);
        assert.deepEqual(message, { topic, payload: 'hello' });
      } finally {
        await subscriber.close();
      }
    });

    it('delivers a QoS 1 message published while a persistent session was offline', { timeout: TEST_TIMEOUT_MS }, async () => {
      const topic = unique('offline');
      const clientId = unique('persistent');
      try {
        await createOfflineSession(broker.url, clientId, topic);
        await publishQos1(broker.url, topic, ['while-offline']);
        const back = await openClient(broker.url, { clientId, clean: false });
        try {
          assert.equal(back.sessionPresent, true, 'the broker kept the session');
          const messages = await back.waitForMessages(1);
          assert.deepEqual(messages, [{ topic, payload: 'while-offline' }]);
        } finally {
          await back.close();
        }
      } finally {
        await discardSession(broker.url, clientId);
      }
    });

    if (kind === 'mosquitto-service') {
      it('refuses restart() and treats stop() as a no-op', async () => {
        await assert.rejects(broker.restart(), /cannot be restarted/);
        await broker.stop();
        const probe = await probeMqtt(broker.url);
        assert.equal(probe.ok, true, 'the shared service is still up');
      });
    } else {
      it('keeps queued QoS 1 messages of an offline persistent session across restart()', { timeout: TEST_TIMEOUT_MS }, async () => {
        const topic = unique('restart');
        const clientId = unique('persistent');
        try {
          await createOfflineSession(broker.url, clientId, topic);
          const before = Array.from({ length: 10 }, (_, i) => `before-${i}`);
          await publishQos1(broker.url, topic, before);
          await broker.restart();
          const afterRestart = Array.from({ length: 10 }, (_, i) => `after-${i}`);
          await publishQos1(broker.url, topic, afterRestart);
          const back = await openClient(broker.url, { clientId, clean: false });
          try {
            assert.equal(back.sessionPresent, true, 'the session survived the restart');
            const messages = await back.waitForMessages(20);
            // Let anything extra (duplicates) arrive before asserting the exact list.
            await new Promise((resolve) => setTimeout(resolve, 200));
            assert.deepEqual(
              back.messages.map((m) => m.payload),
              [...before, ...afterRestart],
            );
            assert.ok(messages.every((m) => m.topic === topic));
          } finally {
            await back.close();
          }
        } finally {
          await discardSession(broker.url, clientId);
        }
      });

      it('serves on the same port after restart()', { timeout: TEST_TIMEOUT_MS }, async () => {
        const port = broker.port;
        await broker.restart();
        assert.equal(broker.port, port);
        assert.deepEqual(await probeMqtt(broker.url), { ok: true });
      });

      it('stop() releases the port', { timeout: TEST_TIMEOUT_MS }, async () => {
        const own = await startTestBroker({ force });
        assert.deepEqual(await probeMqtt(own.url), { ok: true });
        await own.stop();
        const probe = await probeMqtt(own.url);
        assert.equal(probe.ok, false);
      });
    }
  });
}

describe('test MQTT broker selection', { timeout: 120_000 }, () => {
  const saved = process.env[BROKER_ENV_VAR];
  const restoreEnv = () => {
    if (saved === undefined) delete process.env[BROKER_ENV_VAR];
    else process.env[BROKER_ENV_VAR] = saved;
  };
  after(restoreEnv);

  it('takes the service when it answers, else a spawned mosquitto, else aedes', { timeout: TEST_TIMEOUT_MS }, async () => {
    delete process.env[BROKER_ENV_VAR];
    const broker = await startTestBroker();
    try {
      const expected: BrokerKind = serviceProbe.ok ? 'mosquitto-service' : mosquittoBinary !== undefined ? 'mosquitto-spawned' : 'aedes';
      assert.equal(broker.kind, expected);
      assert.match(describeBrokerChoice(), new RegExp(expected));
    } finally {
      await broker.stop();
      restoreEnv();
    }
  });

  it('never hands out the shared service when a restartable broker is asked for', { timeout: TEST_TIMEOUT_MS }, async () => {
    delete process.env[BROKER_ENV_VAR];
    const broker = await startTestBroker({ restartable: true });
    try {
      assert.notEqual(broker.kind, 'mosquitto-service');
      assert.equal(broker.kind, mosquittoBinary !== undefined ? 'mosquitto-spawned' : 'aedes');
      assert.match(describeBrokerChoice(), /restartable broker was requested/);
    } finally {
      await broker.stop();
      restoreEnv();
    }
  });

  it(`${BROKER_ENV_VAR}=aedes forces the aedes fallback even when Mosquitto is there`, { timeout: TEST_TIMEOUT_MS }, async () => {
    process.env[BROKER_ENV_VAR] = 'aedes';
    let broker: TestBroker | undefined;
    try {
      broker = await startTestBroker();
      assert.equal(broker.kind, 'aedes');
      assert.match(describeBrokerChoice(), new RegExp(`aedes \\(in-process\\) on ${broker.url}: forced by ${BROKER_ENV_VAR}=aedes`));
      assert.deepEqual(await probeMqtt(broker.url), { ok: true });
    } finally {
      await broker?.stop();
      restoreEnv();
    }
  });

  const binaryGate = peerGate(mosquittoBinary === undefined ? 'no mosquitto binary' : false);
  it(`${BROKER_ENV_VAR}=mosquitto forces a spawned mosquitto`, { timeout: TEST_TIMEOUT_MS, skip: binaryGate.skip }, async () => {
    binaryGate.assertPresent();
    process.env[BROKER_ENV_VAR] = 'mosquitto';
    let broker: TestBroker | undefined;
    try {
      broker = await startTestBroker();
      assert.equal(broker.kind, 'mosquitto-spawned');
      assert.notEqual(broker.port, 1883);
    } finally {
      await broker?.stop();
      restoreEnv();
    }
  });

  it(`${BROKER_ENV_VAR}=service with restartable: true is refused`, async () => {
    process.env[BROKER_ENV_VAR] = 'service';
    try {
      await assert.rejects(startTestBroker({ restartable: true }), /cannot be restarted/);
    } finally {
      restoreEnv();
    }
  });

  it('under CI (CI=true) refuses to fall back to aedes silently, and names the broker otherwise', { timeout: TEST_TIMEOUT_MS }, async () => {
    const savedCi = process.env.CI;
    delete process.env[BROKER_ENV_VAR];
    try {
      process.env.CI = 'true';
      await assert.rejects(startTestBroker({ restartable: true, withoutMosquittoBinary: true }), /CI=true and no Mosquitto to test against: .*no mosquitto binary.*ANNUNCIATOR_TEST_BROKER=aedes/);
      delete process.env.CI;
      const fallback = await startTestBroker({ restartable: true, withoutMosquittoBinary: true });
      try {
        assert.equal(fallback.kind, 'aedes');
        assert.match(fallback.choice, /^aedes \(in-process\) on mqtt:\/\/127\.0\.0\.1:\d+: .*no mosquitto binary/);
      } finally {
        await fallback.stop();
      }
    } finally {
      if (savedCi === undefined) delete process.env.CI;
      else process.env.CI = savedCi;
      restoreEnv();
    }
  });

  it(`under CI, ${BROKER_ENV_VAR}=aedes still runs on aedes, deliberately`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const savedCi = process.env.CI;
    process.env.CI = 'true';
    process.env[BROKER_ENV_VAR] = 'aedes';
    let broker: TestBroker | undefined;
    try {
      broker = await startTestBroker();
      assert.equal(broker.kind, 'aedes');
      assert.match(broker.choice, new RegExp(`forced by ${BROKER_ENV_VAR}=aedes`));
    } finally {
      await broker?.stop();
      if (savedCi === undefined) delete process.env.CI;
      else process.env.CI = savedCi;
      restoreEnv();
    }
  });

  it(`an unknown ${BROKER_ENV_VAR} value is refused`, async () => {
    process.env[BROKER_ENV_VAR] = 'rabbitmq';
    try {
      await assert.rejects(startTestBroker(), /must be one of service, mosquitto, aedes/);
    } finally {
      restoreEnv();
    }
  });
});
