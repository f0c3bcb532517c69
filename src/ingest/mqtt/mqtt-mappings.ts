import type { MqttMapping } from '../../config/schema.js';
import { compileTopicTemplate, type TopicTemplate } from '../../config/topic-template.js';

export interface MappedTopic {
  mapping: MqttMapping;
  segments: Record<string, string>;
}

/** Each broker's subscriptions, compiled once: which mapping a topic falls under, first match wins. */
export class MqttMappings {
  private readonly byBroker = new Map<string, Array<{ template: TopicTemplate; mapping: MqttMapping }>>();

  constructor(brokers: ReadonlyArray<{ name: string; subscriptions: readonly MqttMapping[] }>) {
    for (const broker of brokers) {
      this.byBroker.set(
        broker.name,
        broker.subscriptions.map((mapping) => ({ template: compileTopicTemplate(mapping.topic), mapping })),
      );
    }
  }

  /** The MQTT filters to subscribe to on a broker. */
  filters(broker: string): string[] {
    return [...new Set((this.byBroker.get(broker) ?? []).map((s) => s.template.filter))];
  }

  find(broker: string, topic: string): MappedTopic | undefined {
    for (const { template, mapping } of this.byBroker.get(broker) ?? []) {
      const segments = template.match(topic);
      if (segments) return { mapping, segments };
    }
    return undefined;
  }
}
