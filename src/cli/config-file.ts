import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Where the configuration is looked for when neither `--config` nor `ANNUNCIATOR_CONFIG`
 * names it, first found wins: the working directory (a deployment directory holding
 * annunciator.yaml), its config/ folder (a clone of the repository, or a copy of its
 * layout), then the system location a package or the systemd unit uses.
 */
export const CONFIG_SEARCH_PATH: readonly string[] = ['annunciator.yaml', 'config/annunciator.yaml', '/etc/annunciator/annunciator.yaml'];

export type ConfigSource = 'option' | 'env' | 'search';

export type ConfigFileLookup = { ok: true; file: string; source: ConfigSource } | { ok: false; problem: string };

/**
 * The configuration file a command uses, looked up as a service does: `--config FILE`, else
 * the `ANNUNCIATOR_CONFIG` environment variable, else the first of CONFIG_SEARCH_PATH that
 * exists (relative entries against `cwd`). A file named by the option or the variable is
 * taken as named, so a typo in it is reported, not silently replaced by another file.
 */
export function findConfigFile(option: string | undefined, env: NodeJS.ProcessEnv, cwd: string): ConfigFileLookup {
  if (option !== undefined && option !== '') return { ok: true, file: resolve(cwd, option), source: 'option' };
  const named = env.ANNUNCIATOR_CONFIG;
  if (named !== undefined && named !== '') return { ok: true, file: resolve(cwd, named), source: 'env' };
  const candidates = CONFIG_SEARCH_PATH.map((p) => resolve(cwd, p));
  const found = candidates.find((file) => existsSync(file));
  if (found) return { ok: true, file: found, source: 'search' };
  return {
    ok: false,
    problem: [
      'annunciator: no configuration file found. Looked for:',
      '  --config FILE              (not given)',
      '  ANNUNCIATOR_CONFIG         (not set)',
      ...candidates.map((file) => `  ${file}`),
      'Name one with --config FILE or ANNUNCIATOR_CONFIG, or put annunciator.yaml in one of those places',
      '(config/annunciator.yaml of the package is a working start).',
    ].join('\n'),
  };
}

/** "(named by --config)" and the like, for a message about a file that cannot be read. */
export function describeSource(source: ConfigSource): string {
  switch (source) {
    case 'option':
      return 'named by --config';
    case 'env':
      return 'named by ANNUNCIATOR_CONFIG';
    case 'search':
      return 'found in the working directory or /etc/annunciator';
  }
}
