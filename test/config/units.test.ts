import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration, parseSize } from '../../src/config/units.js';

describe('parseDuration', () => {
  it('reads each single unit', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('1w'), 604_800_000);
  });

  it('treats "ms" as milliseconds, not minutes followed by seconds', () => {
    assert.equal(parseDuration('1ms'), 1);
    assert.equal(parseDuration('5m'), 300_000);
  });

  it('adds up compound durations', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1d2h3m4s5ms'), 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5);
  });

  it('accepts white space between compound parts and around the value', () => {
    assert.equal(parseDuration('1h 30m'), 5_400_000);
    assert.equal(parseDuration('  30s  '), 30_000);
  });

  it('accepts white space between a number and its unit', () => {
    assert.equal(parseDuration('30 s'), 30_000);
  });

  it('is case-insensitive', () => {
    assert.equal(parseDuration('30S'), 30_000);
    assert.equal(parseDuration('1H30M'), 5_400_000);
  });

  it('accepts decimal amounts', () => {
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('0.5s'), 500);
  });

  it('reads a plain number string as milliseconds', () => {
    assert.equal(parseDuration('1500'), 1500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('2.5'), 2.5);
  });

  it('passes through non-negative finite numbers', () => {
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration(30_000), 30_000);
    assert.equal(parseDuration(1.5), 1.5);
  });

  it('refuses negative, infinite and NaN numbers', () => {
    assert.equal(parseDuration(-1), undefined);
    assert.equal(parseDuration(Number.POSITIVE_INFINITY), undefined);
    assert.equal(parseDuration(Number.NaN), undefined);
  });

  it('refuses malformed text', () => {
    for (const text of ['', '   ', 'soon', '10x', '5m30', 's', '-5s', '1mss', '10 minutes', '1h-30m', '1,5h', 'ms']) {
      assert.equal(parseDuration(text), undefined, JSON.stringify(text));
    }
  });
});

describe('parseSize', () => {
  it('reads binary and decimal units', () => {
    assert.equal(parseSize('10MiB'), 10 * 1024 * 1024);
    assert.equal(parseSize('512KiB'), 512 * 1024);
    assert.equal(parseSize('512KB'), 512_000);
    assert.equal(parseSize('2MB'), 2_000_000);
    assert.equal(parseSize('1GB'), 1_000_000_000);
    assert.equal(parseSize('1GiB'), 1024 ** 3);
    assert.equal(parseSize('100b'), 100);
  });

  it('reads a plain number string as bytes', () => {
    assert.equal(parseSize('2048'), 2048);
    assert.equal(parseSize('0'), 0);
  });

  it('accepts white space between number and unit and around the value', () => {
    assert.equal(parseSize('512 KB'), 512_000);
    assert.equal(parseSize('  10 MiB  '), 10 * 1024 * 1024);
  });

  it('is case-insensitive', () => {
    assert.equal(parseSize('10mib'), 10 * 1024 * 1024);
    assert.equal(parseSize('1kIB'), 1024);
  });

  it('rounds fractional byte counts down', () => {
    assert.equal(parseSize('1.5KiB'), 1536);
    assert.equal(parseSize('1.5'), 1);
    assert.equal(parseSize('0.5b'), 0);
  });

  it('passes through non-negative integers', () => {
    assert.equal(parseSize(0), 0);
    assert.equal(parseSize(4096), 4096);
  });

  it('refuses negative, fractional and non-finite numbers', () => {
    assert.equal(parseSize(-1), undefined);
    assert.equal(parseSize(1.5), undefined);
    assert.equal(parseSize(Number.NaN), undefined);
    assert.equal(parseSize(Number.POSITIVE_INFINITY), undefined);
  });

  it('refuses unknown units and malformed text', () => {
    for (const text of ['', 'big', '10XB', '10 MiB extra', '-5KB', 'KiB', '10 M i B', '1e6']) {
      assert.equal(parseSize(text), undefined, JSON.stringify(text));
    }
  });
});

describe('formatDuration', () => {
  it('shows milliseconds below one second', () => {
    assert.equal(formatDuration(0), '0ms');
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(999), '999ms');
  });

  it('shows seconds below two minutes', () => {
    assert.equal(formatDuration(1000), '1s');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(119_000), '119s');
  });

  it('shows minutes below two hours', () => {
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(30 * 60_000), '30m');
    assert.equal(formatDuration(119 * 60_000), '119m');
  });

  it('shows hours below two days', () => {
    assert.equal(formatDuration(2 * 3_600_000), '2h');
    assert.equal(formatDuration(47 * 3_600_000), '47h');
  });

  it('shows days from two days on', () => {
    assert.equal(formatDuration(48 * 3_600_000), '2d');
    assert.equal(formatDuration(10 * 86_400_000), '10d');
  });

  it('rounds to the nearest unit', () => {
    assert.equal(formatDuration(1_499), '1s');
    assert.equal(formatDuration(1_500), '2s');
  });

  it('round-trips with parseDuration for whole units', () => {
    for (const text of ['250ms', '45s', '30m', '5h', '3d']) {
      assert.equal(formatDuration(parseDuration(text)!), text);
    }
  });
});
