import assert from 'node:assert/strict';
import { ConfigError, type ConfigProblem } from '../../src/config/load.js';

/** A listener and a file account: the smallest valid configuration, as YAML, for config tests to add to. */
export const MINIMAL_CONFIG_YAML = `listeners:
  - name: lan
    address: 127.0.0.1
    port: 2525
    trustedNetworks: [10.0.0.0/8]
delivery:
  accounts:
    - name: files
      type: file
      directory: out
`;

/** An alarms section whose default route names no receivers. */
export const ALARMS_YAML = `alarms:
  defaultRoute:
    receivers: []
`;

/** The problems a configuration is refused for; fails the test when it is accepted or fails otherwise. */
export function refusalOf(parse: () => unknown): ConfigProblem[] {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected the configuration to be refused');
}
