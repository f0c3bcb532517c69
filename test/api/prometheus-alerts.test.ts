import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers/built-cli.js';
import { configFrom, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';

/**
 * examples/prometheus/annunciator-alerts.yml: a rule file Prometheus would load (the rule
 * group structure of its documentation), and every metric it names is one a real
 * gateway's /metrics declares, so a renamed metric cannot leave an alert that never fires.
 */
const FILE = join(REPO_ROOT, 'examples/prometheus/annunciator-alerts.yml');
/** Series Prometheus makes itself, not the gateway. */
const SYNTHETIC = new Set(['up']);
/** PromQL functions, aggregations, keywords and modifiers that look like names in an expression. */
const PROMQL_WORDS = new Set([
  'sum', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'increase', 'rate', 'irate', 'deriv', 'delta', 'time',
  'histogram_quantile', 'max', 'min', 'avg', 'count', 'absent', 'changes', 'resets', 'offset', 'bool', 'le', 'instance', 'account', 'broker', 'listener', 'reason', 'kind', 'job', 'outcome', 'class', 'humanizeDuration',
]);
const DURATION = /^([0-9]+(ms|s|m|h|d|w|y))+$/;

interface Rule {
  alert?: unknown;
  record?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: unknown;
  annotations?: unknown;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** The metric names an expression reads: identifiers outside label matchers and strings that are not PromQL words. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings.replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
  const withoutGroupings = withoutMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = withoutGroupings.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const c of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0;
}

describe('examples/prometheus/annunciator-alerts.yml', () => {
  const document = parse(readFileSync(FILE, 'utf8')) as { groups?: unknown };
  const groups = document.groups as Array<{ name?: unknown; rules?: unknown; interval?: unknown }>;
  const rules = () => groups.flatMap((g) => g.rules as Rule[]);

  it('is a list of rule groups, each with a unique name and rules; nothing else at the top', () => {
    assert.deepEqual(Object.keys(document), ['groups']);
    assert.ok(Array.isArray(groups) && groups.length > 0);
    const names = groups.map((g) => g.name);
    assert.ok(names.every((n) => typeof n === 'string' && n !== ''));
    assert.equal(new Set(names).size, names.length, 'group names are unique');
    for (const group of groups) {
      assert.deepEqual(Object.keys(group).filter((k) => !['name', 'rules', 'interval', 'limit'].includes(k)), [], `group ${String(group.name)}`);
      assert.ok(Array.isArray(group.rules) && group.rules.length > 0, `group ${String(group.name)} has rules`);
    }
  });

  it('every rule is an alert with an expression, a duration, a severity label and a summary', () => {
    const alerts = new Set<string>();
    for (const rule of rules()) {
      const where = `rule ${JSON.stringify(rule.alert ?? rule.record)}`;
      assert.deepEqual(Object.keys(rule).filter((k) => !['alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k)), [], where);
      assert.ok(typeof rule.alert === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(rule.alert), `${where}: alert name`);
      assert.ok(!alerts.has(rule.alert), `${where}: alert names are unique`);
      alerts.add(rule.alert);
      assert.ok(typeof rule.expr === 'string' && rule.expr.trim() !== '', `${where}: expr`);
      assert.ok(balanced(rule.expr), `${where}: brackets balance in ${rule.expr}`);
      if (rule.for !== undefined) assert.ok(typeof rule.for === 'string' && DURATION.test(rule.for), `${where}: for is a duration`);
      assert.ok(isStringMap(rule.labels) && ['critical', 'warning', 'info'].includes(rule.labels.severity!), `${where}: severity label`);
      assert.ok(isStringMap(rule.annotations) && typeof rule.annotations.summary === 'string', `${where}: summary annotation`);
    }
    for (const needed of ['AnnunciatorDown', 'AnnunciatorStoreNotWritable', 'AnnunciatorQueueGrowing', 'AnnunciatorOldestPendingTooOld', 'AnnunciatorDeliveryFailing', 'AnnunciatorMqttBrokerDown']) {
      assert.ok(alerts.has(needed), `${needed} is there`);
    }
  });

  describe('against a running gateway', () => {
    const dir = testDir();
    let gateway: RunningGateway;
    before(async () => {
      gateway = await runGateway(configFrom(dir, shippedAlarmsConfig(dir, { delivery: relayDelivery(9) })));
    });
    after(async () => {
      await gateway?.stop();
      dir.remove();
    });

    it('every metric an alert reads is one the gateway declares in /metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${gateway.http!.address().port}/metrics`)).text();
      const declared = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
      const exists = (name: string): boolean => {
        if (declared.has(name)) return true;
        const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
        return histogram !== null && declared.get(histogram[1]!) === 'histogram';
      };
      const read = new Set<string>();
      for (const rule of rules()) {
        for (const name of metricNames(rule.expr as string)) {
          read.add(name);
          assert.ok(SYNTHETIC.has(name) || exists(name), `${String(rule.alert)} reads ${name}, which the gateway does not declare`);
        }
      }
      assert.ok(read.has('annunciator_outbox_oldest_pending_age_seconds') && read.has('annunciator_store_commit_seconds_bucket'), 'the names were found in the expressions');
    });
  });
});
