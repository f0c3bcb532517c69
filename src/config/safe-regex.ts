import { RE2JS } from 're2js';

/**
 * Regular expressions written by users (extraction patterns, rule conditions) run on a
 * linear-time engine (RE2, via the pure-JavaScript re2js), so no pattern and no input
 * can backtrack catastrophically and stall the gateway. RE2 has no backreferences or
 * lookaround; named groups are written `(?<name>...)` or `(?P<name>...)`.
 */
export interface SafeRegex {
  readonly source: string;
  /** Named groups of the first match, or undefined when there is none. */
  match(text: string): Record<string, string> | undefined;
  test(text: string): boolean;
}

export class RegexSyntaxError extends Error {}

export function compileSafeRegex(source: string, options: { ignoreCase?: boolean } = {}): SafeRegex {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source, options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (error) {
    throw new RegexSyntaxError(`invalid regular expression /${source}/: ${error instanceof Error ? error.message : String(error)}`);
  }
  const names = Object.keys(compiled.namedGroups());
  return {
    source,
    match(text) {
      const matcher = compiled.matcher(text);
      if (!matcher.find()) return undefined;
      const groups: Record<string, string> = {};
      for (const name of names) {
        const value = matcher.group(name);
        if (value !== null && value !== undefined) groups[name] = value;
      }
      return groups;
    },
    test(text) {
      return compiled.matcher(text).find();
    },
  };
}

/** A zod-friendly check: the message why a pattern is unusable, or undefined. */
export function regexProblem(source: string): string | undefined {
  try {
    compileSafeRegex(source);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** What a pattern cannot do on RE2, said next to every refused pattern of a configuration or rule file. */
export const RE2_HINT = 'patterns use RE2 syntax: no lookaround, no backreferences; (?i) for ignoring case';

/** regexProblem with RE2_HINT: `invalid regular expression /(a/: ... (patterns use RE2 syntax: ...)`. */
export function regexProblemWithHint(source: string): string | undefined {
  const problem = regexProblem(source);
  return problem === undefined ? undefined : `${problem} (${RE2_HINT})`;
}
