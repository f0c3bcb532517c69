import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { testDir } from '../helpers/gateway.js';
import { MINIMAL_CONFIG_YAML } from '../helpers/config-yaml.js';

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');

const BASE = `${MINIMAL_CONFIG_YAML}alarms:
  timeZone: Europe/Berlin
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, FILE, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.line ?? '-'}: ${p.key}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('inhibit rules in the configuration', () => {
  it('loads rules with their matchers parsed', () => {
    const config = parseConfig(
      `${BASE}inhibit:
  - name: site-power-failure
    source: [key=ups-on-battery, 'title~(?i)on battery']
    target: [device.id!=ups-hall2]
    equal: [site]
`,
      FILE,
      {},
    );
    assert.deepEqual(config.inhibit, [
      {
        name: 'site-power-failure',
        source: [
          { field: 'key', operator: 'equal', value: 'ups-on-battery' },
          { field: 'title', operator: 'matches', value: '(?i)on battery' },
        ],
        target: [{ field: 'device.id', operator: 'notEqual', value: 'ups-hall2' }],
        equal: ['site'],
      },
    ]);
    assert.deepEqual(parseConfig(BASE, FILE, {}).inhibit, [], 'none by default');
  });

  it('names file, line, key and problem', () => {
    const found = problems(`${BASE}inhibit:
  - name: one
    source: [titel=x]
    target: ['title~(a']
    equal: [sight]
`);
    assert.ok(found.includes('15: inhibit[0].source[0]: unknown field "titel" in "titel=x" (use device, device.id, device.name, device.site, device.area, site, area, severity, title, key, code or fields.NAME)'), found.join('\n'));
    assert.ok(found.some((p) => /^16: inhibit\[0\]\.target\[0\]: "title~\(a": invalid regular expression/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /^17: inhibit\[0\]\.equal\[0\]: unknown field "sight"/.test(p)), found.join('\n'));
    const empty = problems(`${BASE}inhibit:\n  - { name: one, source: [key=x], target: [] }\n`);
    assert.ok(empty.some((p) => /inhibit\[0\]\.target: name at least one matcher/.test(p)), empty.join('\n'));
  });

  it('refuses a duplicate name, and inhibition without the alarm pipeline', () => {
    const twice = problems(`${BASE}inhibit:
  - { name: one, source: [key=x], target: [key=y] }
  - { name: one, source: [key=x], target: [key=z] }
`);
    assert.ok(twice.some((p) => /inhibit\[1\]\.name: inhibit rule "one" is defined twice/.test(p)), twice.join('\n'));
    const relay = problems(`${BASE.replace('alarms:\n  timeZone: Europe/Berlin\n', '')}inhibit:
  - { name: one, source: [key=x], target: [key=y] }
`);
    assert.ok(relay.some((p) => /inhibit\[0\]: inhibition needs the alarm pipeline/.test(p)), relay.join('\n'));
  });
});
