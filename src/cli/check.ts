import { ConfiguredStages, PipelineConfigError } from '../pipeline/stages.js';
import { accountSummary } from '../config/types.js';
import { loadConfigOrReport } from './load-config-or-report.js';

/** Validates the configuration and, when the alarm pipeline is on, its rules and templates. */
export function checkCommand(configFile: string): number {
  const config = loadConfigOrReport(configFile);
  if (!config) return 1;
  const lines = [
    `${config.file}: OK`,
    `  listeners: ${config.listeners.map((l) => `${l.name} ${l.address}:${l.port}`).join(', ')}`,
    `  accounts: ${config.delivery.accounts.map(accountSummary).join(', ')}`,
  ];
  if (config.replies.length > 0) {
    lines.push(`  replies: ${config.replies.map((r) => `${r.name} (${r.host}:${r.port} ${r.security}, ${r.folder})`).join(', ')}`);
  }
  if (config.alarms) {
    try {
      const stages = new ConfiguredStages(config);
      lines.push(`  rules: ${stages.ruleCount} from ${config.alarms.rulesDir}`, `  templates: ${config.alarms.templatesDir}`, `  devices: ${config.devices.length}, receivers: ${config.receivers.length}, schedules: ${config.schedules.length}`);
      const flood = config.alarms.floodControl;
      const minutes = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);
      lines.push(flood.enabled ? `  flood control: per ${flood.per}, more than ${flood.limit} notifications in ${minutes(flood.window)} -> a digest every ${minutes(flood.digestInterval)}` : '  flood control: off');
    } catch (error) {
      if (error instanceof PipelineConfigError) {
        process.stderr.write(`${error.message}\n`);
        return 1;
      }
      throw error;
    }
  } else {
    lines.push('  mode: relay (no alarms section: mail is relayed as it came)');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
