import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * Loads a package's CommonJS build. For nodemailer and smtp-server the gateway takes these
 * rather than their ES module builds: those import `node:http` as an ES module, and on
 * Node 26 building that module's namespace reads its lazy `WebSocket` export, which
 * loads and compiles undici (Node's fetch) in every thread that sends or receives mail:
 * ~3 MB of heap and ~10 MB of resident memory per thread for code the gateway never runs.
 * Whatever loads a package this way must load it only this way, or it is in memory twice.
 */
export function requireCommonJs<T>(specifier: string): T {
  return require(specifier) as T;
}
