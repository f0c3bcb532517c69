import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fingerprintOf } from '../../src/lifecycle/fingerprint.js';
import { alarmEvent } from '../helpers/alarm-factory.js';

describe('alarm fingerprints', () => {
  it('auto: device and title, ignoring case and spacing', () => {
    assert.equal(fingerprintOf(alarmEvent({ title: 'Pump  P3 dry run' }), 'auto'), fingerprintOf(alarmEvent({ title: 'pump p3 DRY run' }), 'auto'));
    assert.notEqual(fingerprintOf(alarmEvent({ title: 'Pump P3 dry run' }), 'auto'), fingerprintOf(alarmEvent({ title: 'Pump P4 dry run' }), 'auto'));
  });

  it('auto: the extracted code wins over a title that changes', () => {
    assert.equal(fingerprintOf(alarmEvent({ title: 'Level 4.82 m', code: 'LH' }), 'auto'), fingerprintOf(alarmEvent({ title: 'Level 4.90 m', code: 'LH' }), 'auto'));
  });

  it('auto: a pattern key joins an alarm and its return to normal', () => {
    const raised = alarmEvent({ title: 'On battery power', key: 'ups-on-battery', code: '0x0109' });
    const cleared = alarmEvent({ title: 'No longer on battery power', key: 'ups-on-battery', code: '0x010A', state: 'cleared' });
    assert.equal(fingerprintOf(raised, 'auto'), fingerprintOf(cleared, 'auto'));
  });

  it('different devices never share an alarm', () => {
    const a = alarmEvent();
    const b = alarmEvent({ device: { ...a.device, id: 'ups-hall3' } });
    assert.notEqual(fingerprintOf(a, 'auto'), fingerprintOf(b, 'auto'));
  });

  it('configured fields, including body fields', () => {
    const spec = ['site', 'fields.Name'];
    const a = alarmEvent({ title: 'one' });
    const b = alarmEvent({ title: 'two', device: { ...a.device, id: 'other' } });
    assert.equal(fingerprintOf(a, spec), fingerprintOf(b, spec));
    assert.notEqual(fingerprintOf(a, spec), fingerprintOf(alarmEvent({ fields: { Name: 'UPS-HALL3' } }), spec));
  });
});
