import { watch, type FSWatcher } from 'node:fs';
import { Debounce } from '../base/debounce.js';
import type { ReportedProblem } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { Due } from '../lifecycle/alarm.js';
import type { EscalationPolicy } from '../rules/escalation-policy.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import { DeviceMap } from '../parse/device-map.js';
import { compilePatterns } from '../parse/extractor.js';
import { MqttMappings } from '../ingest/mqtt/mqtt-mappings.js';
import type { Batch, BatchSummary } from '../lifecycle/batch.js';
import { renderBatchNotification } from '../render/batch-notification.js';
import { renderNotification, type AckLinkOptions } from '../render/notification.js';
import type { OutgoingMessage } from '../render/outgoing-message.js';
import { formatTemplateProblem, loadTemplates, TemplateError, type TemplateLibrary, type TemplateProblem } from '../render/templates.js';
import { PASSTHROUGH_TEMPLATE } from '../rules/load-rules.js';
import { routeEvent } from '../rules/router.js';
import type { RoutingResult } from '../rules/route.js';
import type { RuleDefinition } from '../rules/rule-book.js';
import { RuleBookHolder } from '../rules/rule-watcher.js';
import { formatRuleProblem, RulesError, type RuleProblem } from '../rules/rules-error.js';
import type { PipelineStages } from './message.js';

export type ReloadOutcome =
  | {
      ok: true;
      message: string;
      /** Key paths changed in the file that take effect only after a restart (config/reload-plan.ts). */
      needRestart?: string[];
      /** Key paths changed and in force now (a reload through the gateway says; rules and templates reloads do not). */
      applied?: string[];
    }
  | {
      ok: false;
      message: string;
      /** Each problem on its own, with file, line and key where known (a reload through the gateway says). */
      problems?: ReportedProblem[];
    };

/** Rules or templates that cannot be used: every problem, each naming its file. */
export class PipelineConfigError extends Error {
  constructor(readonly reported: ReportedProblem[]) {
    super(reported.map((p) => p.text).join('\n'));
    this.name = 'PipelineConfigError';
  }

  static ofRules(problems: readonly RuleProblem[]): PipelineConfigError {
    return new PipelineConfigError(
      problems.map((p) => {
        const key = [p.rule === undefined || p.rule.startsWith('rules[') ? p.rule : `rule "${p.rule}"`, p.key].filter((part) => part !== undefined && part !== '').join(': ');
        return { file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), ...(key !== '' ? { key } : {}), problem: p.message, text: formatRuleProblem(p) };
      }),
    );
  }

  static ofTemplates(problems: readonly TemplateProblem[]): PipelineConfigError {
    return new PipelineConfigError(problems.map((p) => ({ file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), problem: p.message, text: formatTemplateProblem(p) })));
  }
}

/**
 * The pipeline's stages as configured: device map, rules and templates. Rules and
 * templates are reloaded together (SIGHUP, or a file change): a reload that finds any
 * problem changes nothing, so the rules and templates in force stay in force.
 */
export class ConfiguredStages implements PipelineStages {
  readonly devices: DeviceMap;
  readonly mqtt: MqttMappings;
  private templates: TemplateLibrary;
  /** Templates being tried by a reload; the rules are checked against these. */
  private candidate: TemplateLibrary | undefined;
  private readonly rules: RuleBookHolder;
  private templateWatcher: FSWatcher | undefined;
  private templateDebounce: Debounce | undefined;

  /** `explain`: routing results carry each rule's reasons (for `rules test`). */
  constructor(
    private readonly config: GatewayConfig,
    private readonly options: { explain?: boolean } = {},
  ) {
    const alarms = config.alarms!;
    this.devices = new DeviceMap(config.devices, compilePatterns(config.patterns));
    this.mqtt = new MqttMappings(config.mqtt);
    this.templates = loadTemplatesOrThrow(alarms.templatesDir, [alarms.defaultRoute.template, alarms.grouping.template]);
    try {
      this.rules = new RuleBookHolder(alarms.rulesDir, () => ({
        // A rule may name a schedule wherever it names a receiver.
        receivers: [...config.receivers.map((r) => r.name), ...config.schedules.map((s) => s.name)],
        // The rules loader adds the reserved passthrough itself.
        templates: (this.candidate ?? this.templates).names(),
        ...(alarms.defaultRoute.escalation !== undefined ? { defaultEscalation: alarms.defaultRoute.escalation } : {}),
      }));
    } catch (error) {
      if (error instanceof RulesError) throw PipelineConfigError.ofRules(error.problems);
      throw error;
    }
  }

  get ruleCount(): number {
    return this.rules.book.rules.length;
  }

  /** The escalation policy of that name in the rules in force. */
  escalation(name: string): EscalationPolicy | undefined {
    return this.rules.book.escalations.get(name);
  }

  route(event: AlarmEvent, now: number): Promise<RoutingResult> {
    return this.routeWith(event, now, this.options.explain);
  }

  /** The rules in force, in the order they apply. */
  ruleList(): readonly RuleDefinition[] {
    return this.rules.book.rules;
  }

  /**
   * These stages with the rules in force, whose routing results carry each rule's reasons:
   * a dry run (`rules test`, API v1) of what the gateway does now, without reading the
   * rule files again.
   */
  explaining(): PipelineStages {
    return {
      devices: this.devices,
      mqtt: this.mqtt,
      route: (event, now) => this.routeWith(event, now, true),
      renderNotification: (due, original) => this.renderNotification(due, original),
      escalation: (name) => this.escalation(name),
      renderBatch: (batch, summary, sentAt) => this.renderBatch(batch, summary, sentAt),
    };
  }

  private routeWith(event: AlarmEvent, now: number, explain: boolean | undefined): Promise<RoutingResult> {
    const alarms = this.config.alarms!;
    return routeEvent(event, this.rules.book, {
      now,
      timeZone: alarms.timeZone,
      receivers: this.config.receivers,
      schedules: this.config.schedules,
      defaults: alarms.defaultRoute,
      explain,
    });
  }

  renderNotification(due: Due, original: Buffer): Promise<OutgoingMessage> {
    const alarms = this.config.alarms!;
    return renderNotification(due, this.templates, {
      relay: this.config.relay,
      hostname: this.config.gateway.hostname,
      domain: this.config.gateway.domain,
      timeZone: alarms.timeZone,
      locale: alarms.locale,
      original,
      maxQuotedText: alarms.maxQuotedText,
      ...this.ackLinks(),
      ...this.replyAck(),
    });
  }

  renderBatch(batch: Batch, summary: BatchSummary, sentAt: number): Promise<OutgoingMessage> {
    const alarms = this.config.alarms!;
    return renderBatchNotification(batch, summary, sentAt, this.templates, {
      relay: this.config.relay,
      hostname: this.config.gateway.hostname,
      domain: this.config.gateway.domain,
      timeZone: alarms.timeZone,
      locale: alarms.locale,
      template: alarms.grouping.template,
      maxListed: alarms.grouping.maxListed,
      ...this.ackLinks(),
      ...this.replyAck(),
    });
  }

  /** With `http.baseUrl` and `http.linkSecret`, every notification (alarm, group, digest) carries an acknowledgement link. */
  private ackLinks(): { ackLinks?: AckLinkOptions } {
    const links = this.config.http?.links;
    return links ? { ackLinks: { baseUrl: links.baseUrl, key: links.key, lifetime: links.lifetime } } : {};
  }

  /** When replies are read, notifications say which word acknowledges (the first account's first). */
  private replyAck(): { replyAckWord?: string } {
    const word = this.config.replies[0]?.ackWords[0];
    return word ? { replyAckWord: word } : {};
  }

  reload(): ReloadOutcome {
    const alarms = this.config.alarms!;
    try {
      this.candidate = loadTemplatesOrThrow(alarms.templatesDir, [alarms.defaultRoute.template, alarms.grouping.template]);
    } catch (error) {
      if (error instanceof PipelineConfigError) return { ok: false, message: `templates refused, rules and templates in force stay:\n${error.message}` };
      throw error;
    }
    try {
      const result = this.rules.reload();
      if (!result.ok) return { ok: false, message: `rules refused, rules and templates in force stay:\n${result.error.problems.map(formatRuleProblem).join('\n')}` };
      this.templates = this.candidate;
      return { ok: true, message: `reloaded ${result.rules} rule(s) and ${this.templates.names().length} template set(s)` };
    } finally {
      this.candidate = undefined;
    }
  }

  /** Reloads on changes to rule or template files. */
  watch(logger: Logger): void {
    const report = (outcome: ReloadOutcome): void => {
      if (outcome.ok) logger.info(outcome.message);
      else logger.error(outcome.message);
    };
    // A rule file change reloads rules and templates together, like SIGHUP.
    this.rules.watch(() => report(this.reload()));
    const debounce = new Debounce(200, () => report(this.reload()), { unref: true });
    this.templateDebounce = debounce;
    try {
      this.templateWatcher = watch(this.config.alarms!.templatesDir, { recursive: true }, () => debounce.trigger());
      this.templateWatcher.on('error', () => undefined);
    } catch (error) {
      logger.warn({ err: error }, 'cannot watch the templates directory; SIGHUP still reloads');
    }
  }

  stopWatching(): void {
    this.rules.stopWatching();
    this.templateWatcher?.close();
    this.templateDebounce?.cancel();
  }
}

/** `required`: the templates the configuration names (the default route's, the group/digest set). */
function loadTemplatesOrThrow(dir: string, required: string[]): TemplateLibrary {
  try {
    return loadTemplates(dir, { required: required.filter((name) => name !== PASSTHROUGH_TEMPLATE) });
  } catch (error) {
    if (error instanceof TemplateError) throw PipelineConfigError.ofTemplates(error.problems);
    throw error;
  }
}
