import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InhibitRule } from '../../src/config/inhibit.js';
import { activeInhibition } from '../../src/lifecycle/inhibit.js';
import { alarm, m, motor, powerFailure, T0, ups } from '../helpers/inhibit-fixtures.js';

describe('inhibition (pure)', () => {
  it('an active source mutes targets at the same site, and says which alarm and rule', () => {
    const inhibition = activeInhibition(motor, [ups, motor], [powerFailure]);
    assert.equal(inhibition?.source.id, 'UPS');
    assert.equal(inhibition?.rule.name, 'site-power-failure');
  });

  it('not at another site, nor for alarms the target side does not select', () => {
    const south = alarm('COLD', { id: 'logger-cold-room', site: 'Plant South' });
    assert.equal(activeInhibition(south, [ups], [powerFailure]), undefined);
    assert.equal(activeInhibition({ ...ups, id: 'UPS2' }, [ups], [powerFailure]), undefined, 'the UPS itself is not a target');
  });

  it('a field neither alarm has does not make them equal', () => {
    const nowhere = (id: string, key?: string) => alarm(id, { id: `dev-${id}` }, key ? { key } : {});
    assert.equal(activeInhibition(nowhere('T'), [nowhere('S', 'ups-on-battery')], [powerFailure]), undefined);
  });

  it('an alarm never inhibits itself', () => {
    const everything: InhibitRule = { name: 'all-major', source: [m('severity=major')], target: [m('severity~.')], equal: [] };
    assert.equal(activeInhibition(motor, [motor], [everything]), undefined);
  });

  it('a resolved source no longer inhibits', () => {
    assert.equal(activeInhibition(motor, [{ ...ups, state: 'resolved', resolvedAt: T0 + 1000 }], [powerFailure]), undefined);
    assert.equal(activeInhibition(motor, [], [powerFailure]), undefined, 'nor one no longer among the active alarms');
  });

  it('two alarms that match both sides do not mute each other', () => {
    const criticalMutesCritical: InhibitRule = { name: 'critical-first', source: [m('severity=critical')], target: [m('severity=critical')], equal: ['site'] };
    const a = alarm('A', { id: 'a', site: 'Plant North' }, { severity: 'critical' });
    const b = alarm('B', { id: 'b', site: 'Plant North' }, { severity: 'critical' });
    assert.equal(activeInhibition(a, [a, b], [criticalMutesCritical]), undefined);
    assert.equal(activeInhibition(b, [a, b], [criticalMutesCritical]), undefined);
  });

  it('of several sources, the one raised first', () => {
    const later = { ...ups, id: 'UPS-LATER', firstSeen: T0 + 5000 };
    const earlier = { ...ups, id: 'UPS-EARLIER', firstSeen: T0 - 5000 };
    assert.equal(activeInhibition(motor, [later, earlier], [powerFailure])?.source.id, 'UPS-EARLIER');
  });
});
