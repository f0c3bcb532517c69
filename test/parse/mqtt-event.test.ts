import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { compileTopicTemplate } from '../../src/config/topic-template.js';
import { MqttMappings } from '../../src/ingest/mqtt/mqtt-mappings.js';
import type { Received } from '../../src/ingest/received.js';
import type { AlarmEvent } from '../../src/parse/alarm-event.js';
import { parseMqttMessage, parseTime, type MqttParseResult, type TopicState } from '../../src/parse/mqtt-event.js';
import { CORPUS_DIR } from '../helpers/corpus.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

const config = loadConfig(join(REPO_ROOT, 'config/examples/mqtt.yaml'), {});
const mappings = new MqttMappings(config.mqtt);
const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);

function parse(topic: string, payload: string | Buffer, previous?: TopicState): MqttParseResult {
  const mapped = mappings.find('plant-broker', topic);
  assert.ok(mapped, `no mapping for ${topic}`);
  const received: Received = {
    id: 'R1',
    receivedAt: T0,
    listener: 'plant-broker',
    peer: { address: '127.0.0.1', port: 1883, secure: false },
    envelope: { mailFrom: null, rcptTo: [] },
    raw: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
    mqtt: { topic, qos: 1, retain: false, dup: false, messageId: 1 },
  };
  return parseMqttMessage({ received, topic, ...mapped, previous, devices: config.devices });
}

function event(result: MqttParseResult): AlarmEvent {
  assert.equal(result.kind, 'event', JSON.stringify(result));
  return (result as Extract<MqttParseResult, { kind: 'event' }>).event;
}

function sample(name: string): { topic: string; payload: string } {
  const { topic, payload } = JSON.parse(readFileSync(join(CORPUS_DIR, 'mqtt', `${name}.json`), 'utf8')) as { topic: string; payload: unknown };
  return { topic, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) };
}

describe('every MQTT corpus sample maps to the alarm record it describes', () => {
  it('ships a mapping for each sample', () => {
    for (const file of readdirSync(join(CORPUS_DIR, 'mqtt'))) {
      const { topic } = sample(file.replace(/\.json$/, ''));
      assert.ok(mappings.find('plant-broker', topic), `${file}: ${topic} is not mapped`);
    }
  });

  it('tank-level-json: JSON with state, value, unit and ISO time; device from the topic', () => {
    const { topic, payload } = sample('tank-level-json');
    const e = event(parse(topic, payload));
    assert.equal(e.source, 'mqtt');
    assert.equal(e.device.id, 'tank3');
    assert.equal(e.device.name, 'Tank 3');
    assert.equal(e.device.matchedBy, 'topic');
    assert.equal(e.state, 'active');
    assert.equal(e.key, 'LevelHigh');
    assert.equal(e.value, 4.82);
    assert.equal(e.unit, 'm');
    assert.equal(e.title, 'tank3: LevelHigh');
    assert.equal(e.deviceTime, Date.parse('2026-11-24T03:14:07Z'));
    assert.equal(e.fields.limit, '4.5');
    assert.equal(e.fields.line, 'line2');
  });

  it('tank-level-cleared: the same key, cleared', () => {
    const { topic, payload } = sample('tank-level-cleared');
    const e = event(parse(topic, payload));
    assert.equal(e.state, 'cleared');
    assert.equal(e.key, 'LevelHigh');
    assert.equal(e.value, 4.1);
  });

  it('nested-json-epoch: nested paths, numeric severity, boolean state, epoch seconds; device from the payload', () => {
    const { topic, payload } = sample('nested-json-epoch');
    const e = event(parse(topic, payload));
    assert.equal(e.device.id, 'press-04');
    assert.equal(e.device.area, 'Stamping');
    assert.equal(e.title, 'Light curtain interrupted during stroke');
    assert.equal(e.code, '3012');
    assert.equal(e.severity, 'critical');
    assert.equal(e.state, 'active');
    assert.equal(e.deviceTime, 1764036847 * 1000);
  });

  it('plain-text-on / -off: a value map to active and cleared, key from the topic', () => {
    const on = event(parse(sample('plain-text-on').topic, sample('plain-text-on').payload));
    const off = event(parse(sample('plain-text-off').topic, sample('plain-text-off').payload));
    assert.equal(on.state, 'active');
    assert.equal(off.state, 'cleared');
    assert.equal(on.key, 'oil_pressure_low');
    assert.equal(off.key, on.key);
    assert.equal(on.device.name, 'Compressor C2');
    assert.equal(on.title, 'Compressor C2: oil_pressure_low');
  });

  it('numeric-telemetry: beyond the limit raises the alarm', () => {
    const { topic, payload } = sample('numeric-telemetry');
    const result = parse(topic, payload);
    const e = event(result);
    assert.equal(e.state, 'active');
    assert.equal(e.value, 4.82);
    assert.equal(e.key, 'level-high');
    assert.equal(e.severity, 'major');
    assert.deepEqual((result as Extract<MqttParseResult, { kind: 'event' }>).topicState, { topic, state: 'active', value: 4.82, at: T0 });
  });
});

describe('numeric telemetry with a deadband does not flap', () => {
  const topic = 'plant/north/line2/tank3/level';

  it('a value hovering at the limit raises once and clears only below limit - deadband', () => {
    let state: TopicState | undefined;
    const outcomes: string[] = [];
    for (const value of [4.2, 4.5, 4.49, 4.51, 4.31, 4.5, 4.29, 4.35, 4.6]) {
      const result = parse(topic, String(value), state);
      assert.notEqual(result.kind, 'bad');
      outcomes.push(result.kind === 'event' ? result.event.state : '-');
      state = result.kind === 'bad' ? state : (result.topicState ?? state);
    }
    assert.deepEqual(outcomes, ['-', 'active', '-', '-', '-', '-', 'cleared', '-', 'active']);
  });
});

describe('bad payloads are reasons, not crashes', () => {
  it('malformed JSON', () => {
    const result = parse('plant/north/line2/tank3/alarm', '{"alarm": "LevelHigh", ');
    assert.equal(result.kind, 'bad');
    assert.match((result as { reason: string }).reason, /malformed JSON/);
  });

  it('wrong types', () => {
    const result = parse('plant/north/line2/tank3/alarm', JSON.stringify({ alarm: 'LevelHigh', state: 'active', value: 'high' }));
    assert.match((result as { reason: string }).reason, /value is string "high", not a number/);
    const time = parse('plant/north/line2/tank3/alarm', JSON.stringify({ alarm: 'LevelHigh', ts: 'yesterday' }));
    assert.match((time as { reason: string }).reason, /not an ISO 8601 time/);
    const notObject = parse('plant/north/line2/tank3/alarm', '[1,2]');
    assert.match((notObject as { reason: string }).reason, /not an object/);
  });

  it('an unmapped text value and a number that is not one', () => {
    assert.match((parse('site7/compressor/C2/alarms/oil_pressure_low', 'MAYBE') as { reason: string }).reason, /none of the mapped values/);
    assert.match((parse('plant/north/line2/tank3/level', 'NaN') as { reason: string }).reason, /not a number/);
  });
});

describe('topic templates', () => {
  it('turn named segments into a subscription filter and read them back', () => {
    const t = compileTopicTemplate('plant/{site}/{line}/{device}/alarm');
    assert.equal(t.filter, 'plant/+/+/+/alarm');
    assert.deepEqual(t.match('plant/north/line2/tank3/alarm'), { site: 'north', line: 'line2', device: 'tank3' });
    assert.equal(t.match('plant/north/line2/tank3/level'), undefined);
    assert.equal(t.match('plant/north/line2/alarm'), undefined);
    assert.equal(t.match('plant/north/line2/tank3/alarm/extra'), undefined);
  });

  it('a last {name...} or # takes the rest', () => {
    const t = compileTopicTemplate('site/{site}/{path...}');
    assert.equal(t.filter, 'site/+/#');
    assert.deepEqual(t.match('site/7/a/b/c'), { site: '7', path: 'a/b/c' });
  });

  it('times: ISO 8601, epoch seconds and milliseconds', () => {
    assert.equal(parseTime('2026-11-24T03:14:07Z'), Date.UTC(2026, 10, 24, 3, 14, 7));
    assert.equal(parseTime(1764036847), 1764036847000);
    assert.equal(parseTime(1764036847123), 1764036847123);
    assert.equal(parseTime('03:14'), undefined);
  });
});
