import { resolve } from 'node:path';
import { ConfigError, loadConfig } from '../config/load.js';
import { accountSummary, type AccountTarget, type GatewayConfig } from '../config/types.js';
import { ConfiguredStages, PipelineConfigError } from '../pipeline/stages.js';

export interface CheckOptions {
  /** One JSON document on stdout, for a deployment script or an editor: what is configured, or every problem. */
  json?: boolean;
}

/** What `check --json` prints for a usable configuration. */
interface CheckedConfiguration {
  ok: true;
  file: string;
  mode: 'alarms' | 'relay';
  listeners: Array<{ name: string; address: string; port: number }>;
  accounts: AccountTarget[];
  replies: Array<{ name: string; host: string; port: number; security: string; folder: string }>;
  alarms?: {
    rules: number;
    rulesDir: string;
    templatesDir: string;
    devices: number;
    receivers: number;
    schedules: number;
    floodControl: { enabled: false } | { enabled: true; per: string; limit: number; windowSeconds: number; digestIntervalSeconds: number };
  };
}

/** Validates the configuration and, when the alarm pipeline is on, its rules and templates. */
export function checkCommand(configFile: string, options: CheckOptions = {}): number {
  let config: GatewayConfig;
  let stages: ConfiguredStages | undefined;
  try {
    config = loadConfig(configFile);
    stages = config.alarms ? new ConfiguredStages(config) : undefined;
  } catch (error) {
    if (!(error instanceof ConfigError) && !(error instanceof PipelineConfigError)) throw error;
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: false, file: resolve(configFile), problems: error.reported }, null, 2)}\n`);
    else process.stderr.write(`${error.message}\n`);
    return 1;
  }
  const checked = checkedConfiguration(config, stages);
  process.stdout.write(options.json ? `${JSON.stringify(checked, null, 2)}\n` : `${text(checked)}\n`);
  return 0;
}

function checkedConfiguration(config: GatewayConfig, stages: ConfiguredStages | undefined): CheckedConfiguration {
  const alarms = config.alarms;
  const flood = alarms?.floodControl;
  return {
    ok: true,
    file: config.file,
    mode: alarms ? 'alarms' : 'relay',
    listeners: config.listeners.map((l) => ({ name: l.name, address: l.address, port: l.port })),
    accounts: config.delivery.accounts.map((a) => (a.type === 'file' ? { name: a.name, type: a.type, directory: a.directory } : { name: a.name, type: a.type, host: a.host, port: a.port, security: a.security })),
    replies: config.replies.map((r) => ({ name: r.name, host: r.host, port: r.port, security: r.security, folder: r.folder })),
    ...(alarms && stages && flood
      ? {
          alarms: {
            rules: stages.ruleCount,
            rulesDir: alarms.rulesDir,
            templatesDir: alarms.templatesDir,
            devices: config.devices.length,
            receivers: config.receivers.length,
            schedules: config.schedules.length,
            floodControl: flood.enabled ? { enabled: true, per: flood.per, limit: flood.limit, windowSeconds: flood.window / 1000, digestIntervalSeconds: flood.digestInterval / 1000 } : { enabled: false },
          },
        }
      : {}),
  };
}

function text(checked: CheckedConfiguration): string {
  const lines = [`${checked.file}: OK`, `  listeners: ${checked.listeners.map((l) => `${l.name} ${l.address}:${l.port}`).join(', ')}`, `  accounts: ${checked.accounts.map(accountSummary).join(', ')}`];
  if (checked.replies.length > 0) lines.push(`  replies: ${checked.replies.map((r) => `${r.name} (${r.host}:${r.port} ${r.security}, ${r.folder})`).join(', ')}`);
  const alarms = checked.alarms;
  if (!alarms) return [...lines, '  mode: relay (no alarms section: mail is relayed as it came)'].join('\n');
  const duration = (seconds: number): string => (seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`);
  const flood = alarms.floodControl;
  lines.push(
    `  rules: ${alarms.rules} from ${alarms.rulesDir}`,
    `  templates: ${alarms.templatesDir}`,
    `  devices: ${alarms.devices}, receivers: ${alarms.receivers}, schedules: ${alarms.schedules}`,
    flood.enabled ? `  flood control: per ${flood.per}, more than ${flood.limit} notifications in ${duration(flood.windowSeconds)} -> a digest every ${duration(flood.digestIntervalSeconds)}` : '  flood control: off',
  );
  return lines.join('\n');
}
