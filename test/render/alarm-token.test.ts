import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withAlarmToken } from '../../src/render/notification.js';

describe('withAlarmToken: the alarm token in a subject, once', () => {
  it('appends the token when the subject does not carry it', () => {
    assert.equal(withAlarmToken('Motor M1 overtemperature', '01JABC.x-1'), 'Motor M1 overtemperature [#01JABC.x-1]');
  });
  it('keeps a subject that carries it already (a reply, a template that placed it)', () => {
    assert.equal(withAlarmToken('Re: Motor M1 [#01JABC.x-1]', '01JABC.x-1'), 'Re: Motor M1 [#01JABC.x-1]');
    assert.equal(withAlarmToken('#01JABC.x-1 Motor M1', '01JABC.x-1'), '#01JABC.x-1 Motor M1');
  });
  it('does not take a longer token that starts with it for it', () => {
    assert.equal(withAlarmToken('Motor [#01JABC.x-12]', '01JABC.x-1'), 'Motor [#01JABC.x-12] [#01JABC.x-1]');
    assert.equal(withAlarmToken('Motor [#01JABC.x-1.2] and #01JABC.x-1', '01JABC.x-1'), 'Motor [#01JABC.x-1.2] and #01JABC.x-1');
  });
  it('treats the token literally (its dots and dashes are not patterns)', () => {
    assert.equal(withAlarmToken('Motor #01JABCax-1', '01JABC.x-1'), 'Motor #01JABCax-1 [#01JABC.x-1]');
  });
});
