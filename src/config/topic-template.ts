/**
 * A topic template such as `plant/{site}/{line}/{device}/alarm`: the MQTT filter to
 * subscribe to (`plant/+/+/+/alarm`) and a matcher that names the segments of a topic.
 */
export interface TopicTemplate {
  readonly template: string;
  readonly filter: string;
  match(topic: string): Record<string, string> | undefined;
}

export function compileTopicTemplate(template: string): TopicTemplate {
  const levels = template.split('/');
  const filter = levels.map((level) => (level === '#' || /^\{\w+\.\.\.\}$/.test(level) ? '#' : /^\{\w+\}$/.test(level) ? '+' : level)).join('/');
  return {
    template,
    filter,
    match(topic) {
      const parts = topic.split('/');
      const segments: Record<string, string> = {};
      for (let i = 0; i < levels.length; i += 1) {
        const level = levels[i]!;
        const rest = /^\{(\w+)\.\.\.\}$/.exec(level);
        if (level === '#' || rest) {
          if (rest) segments[rest[1]!] = parts.slice(i).join('/');
          return segments;
        }
        const part = parts[i];
        if (part === undefined) return undefined;
        const named = /^\{(\w+)\}$/.exec(level);
        if (named) {
          // MQTT: a single-level wildcard never matches an empty level at the end of a shorter topic.
          segments[named[1]!] = part;
        } else if (level !== part) {
          return undefined;
        }
      }
      return parts.length === levels.length ? segments : undefined;
    },
  };
}
