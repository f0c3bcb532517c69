import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { peerGate } from '../helpers/real-peers.js';

/**
 * packaging/annunciator.service: the hardening the issue asks for, read off the file, and
 * systemd's own checks of it. `systemd-analyze verify` and `security --offline` read unit
 * files without a running systemd (a container has none), so CI runs them; a machine
 * without systemd-analyze skips them outside CI and fails under CI (.ci/run installs it).
 */

const UNIT_FILE = join(REPO_ROOT, 'packaging', 'annunciator.service');

type Unit = Map<string, Map<string, string[]>>;

/** Sections and their settings; a key may repeat (SystemCallFilter=), so each has a list. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `not a setting inside a section: ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

function setting(unit: Unit, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

function systemdAnalyzeMissing(): string | false {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  return probe.error ? `systemd-analyze is not installed (${(probe.error as NodeJS.ErrnoException).code ?? 'error'}): apt-get install systemd` : false;
}

describe('the systemd unit packaging/annunciator.service', () => {
  const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));

  it('runs the gateway as a simple service with a restart policy that gives up on a loop', () => {
    assert.deepEqual(setting(unit, 'Service', 'Type'), ['simple']);
    assert.match(setting(unit, 'Service', 'ExecStart')[0] ?? '', /^\/\S+\/annunciator start$/);
    assert.deepEqual(setting(unit, 'Service', 'Restart'), ['on-failure']);
    assert.ok(setting(unit, 'Service', 'RestartSec').length === 1);
    assert.ok(Number(setting(unit, 'Unit', 'StartLimitBurst')[0]) > 0, 'StartLimitBurst bounds the restarts');
    assert.ok(setting(unit, 'Unit', 'StartLimitIntervalSec').length === 1);
    assert.deepEqual(setting(unit, 'Install', 'WantedBy'), ['multi-user.target']);
  });

  it('runs as a dedicated user, with its state, configuration and secrets where systemd puts them', () => {
    assert.deepEqual(setting(unit, 'Service', 'User'), ['annunciator']);
    assert.deepEqual(setting(unit, 'Service', 'StateDirectory'), ['annunciator']);
    assert.deepEqual(setting(unit, 'Service', 'ConfigurationDirectory'), ['annunciator']);
    assert.deepEqual(setting(unit, 'Service', 'Environment'), ['ANNUNCIATOR_CONFIG=/etc/annunciator/annunciator.yaml']);
    // `-`: a box whose secrets are all files starts without an env file.
    assert.deepEqual(setting(unit, 'Service', 'EnvironmentFile'), ['-/etc/annunciator/env']);
    assert.deepEqual(setting(unit, 'Service', 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
  });

  it('keeps only CAP_NET_BIND_SERVICE and the file system read-only but for its state', () => {
    assert.deepEqual(setting(unit, 'Service', 'CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(setting(unit, 'Service', 'AmbientCapabilities'), ['CAP_NET_BIND_SERVICE']);
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes',
      ProtectKernelModules: 'yes',
      ProtectControlGroups: 'yes',
      RestrictNamespaces: 'yes',
      RestrictSUIDSGID: 'yes',
      LockPersonality: 'yes',
      SystemCallArchitectures: 'native',
    };
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(setting(unit, 'Service', key), [value], key);
    assert.deepEqual(setting(unit, 'Service', 'RestrictAddressFamilies')[0]?.split(' ').sort(), ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
    assert.equal(setting(unit, 'Service', 'SystemCallFilter')[0], '@system-service');
    // V8's JIT needs writable-then-executable memory: this setting would crash node.
    assert.deepEqual(setting(unit, 'Service', 'MemoryDenyWriteExecute'), []);
    assert.deepEqual(setting(unit, 'Service', 'ReadWritePaths'), [], 'StateDirectory is the only writable place');
  });

  describe('checked by systemd-analyze', () => {
    const gate = peerGate(systemdAnalyzeMissing());
    const dir = testDir('annunciator-unit-');
    after(() => dir.remove());

    /**
     * verify checks that ExecStart names an executable file, and /usr/local/bin/annunciator
     * exists only once installed: the copy points at a stand-in; everything else is as shipped.
     */
    function installedCopy(text = readFileSync(UNIT_FILE, 'utf8')): string {
      const stand = dir.write('annunciator', '#!/bin/sh\nexit 0\n');
      chmodSync(stand, 0o755);
      const replaced = text.replace(/^ExecStart=\S+/m, `ExecStart=${stand}`);
      assert.notEqual(replaced, text);
      return dir.write('annunciator.service', replaced);
    }

    function analyze(args: string[]): { status: number | null; output: string } {
      const run = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_COLORS: '0' } });
      return { status: run.status, output: `${run.stdout}${run.stderr}` };
    }

    it('systemd-analyze verify finds nothing to say', { skip: gate.skip }, () => {
      gate.assertPresent();
      const result = analyze(['verify', installedCopy()]);
      assert.equal(result.status, 0, result.output);
      // Unknown keys and bad values are warnings with exit code 0: the output must be empty.
      assert.equal(result.output.trim(), '');
    });

    it('systemd-analyze verify does complain about a broken copy (the check can fail)', { skip: gate.skip }, () => {
      gate.assertPresent();
      const broken = readFileSync(UNIT_FILE, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=strikt').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes');
      const result = analyze(['verify', installedCopy(broken)]);
      assert.match(result.output, /protect system value, ignoring: strikt/);
      assert.match(result.output, /Unknown key 'NoNewPrivilege'/);
    });

    it('systemd-analyze security rates its exposure at most 2.0 (of 10)', { skip: gate.skip }, () => {
      gate.assertPresent();
      const result = analyze(['security', '--offline=yes', '--threshold=20', '--no-pager', installedCopy()]);
      assert.equal(result.status, 0, result.output);
      const level = /Overall exposure level for \S+: (\d+\.\d+)/.exec(result.output);
      assert.ok(level, result.output);
      assert.ok(Number(level[1]) <= 2, `exposure ${level[1]}`);
    });
  });
});
