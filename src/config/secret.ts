import { readFileSync } from 'node:fs';

/**
 * A credential read from the environment or a secrets file. It never prints itself:
 * JSON, string conversion and util.inspect all show "[redacted]", so a secret that
 * slips into a log line or an error message stays secret.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}

export type SecretSource = { env: string } | { file: string };

export class SecretUnavailable extends Error {}

/** Reads a secret; relative files resolve against the configuration file's folder. */
export function readSecret(source: SecretSource, env: NodeJS.ProcessEnv, resolvePath: (p: string) => string): Secret {
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw new SecretUnavailable(`environment variable ${source.env} is not set`);
    }
    return new Secret(value);
  }
  const path = resolvePath(source.file);
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SecretUnavailable(`secrets file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Secrets files usually end with a newline that is not part of the secret.
  const value = content.replace(/\r?\n$/, '');
  if (value === '') throw new SecretUnavailable(`secrets file ${path} is empty`);
  return new Secret(value);
}
