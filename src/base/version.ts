import { readFileSync } from 'node:fs';

/** This annunciator's version, from package.json (two folders up from both src/base/ and dist/base/). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
