import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, closeSync, constants as fsConstants, chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createCa } from './certs.js';
import { freePort } from './free-port.js';

/**
 * A real Dovecot IMAP server for tests: `dovecot -F -c <temp>/dovecot.conf`, on loopback
 * ports of its own (143-style with STARTTLS, 993-style implicit TLS), a certificate from a
 * CA made for the test, users in a passwd-file, maildirs in the temp dir. Run as root (CI)
 * its login and internal processes take Debian's dovenull and dovecot users and the mail
 * is owned by nobody (Dovecot refuses uid 0 for mail); run as anyone else, everything is
 * that user's.
 */

export interface DovecotUser {
  user: string;
  password: string;
}

export interface TestDovecot {
  host: string;
  /** IMAP with STARTTLS (plaintext login is refused before it). */
  imapPort: number;
  /** IMAP over implicit TLS. */
  imapsPort: number;
  /** PEM of the CA that signed the server certificate; `caFile` holds it too. */
  ca: string;
  caFile: string;
  /** A test client logged in as `user` over implicit TLS (connect() not yet called). */
  client(user: DovecotUser): ImapFlow;
  /** The last lines of Dovecot's log, for failure messages. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const FALLBACK_PATHS = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'];
const READY_TIMEOUT_MS = 15_000;

export function findDovecot(): string | undefined {
  const fromPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'dovecot'));
  for (const candidate of [...FALLBACK_PATHS, ...fromPath]) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * The dovecot binary, installing dovecot-imapd with apt-get when it is missing and we are
 * root (as .ci/run does); otherwise the reason the tests that need it must be skipped
 * (under CI they fail with that reason instead: test/helpers/real-peers.ts).
 */
export function dovecotOrSkipReason(): { binary: string } | { skip: string } {
  const found = findDovecot();
  if (found) return { binary: found };
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (root && apt) {
    const install = spawnSync('sh', ['-c', 'apt-get install -y -qq dovecot-imapd >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq dovecot-imapd >/dev/null)'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    const installed = findDovecot();
    if (installed) return { binary: installed };
    return { skip: `dovecot is not installed and apt-get install dovecot-imapd failed (exit ${String(install.status)}): ${(install.stderr ?? '').trim().slice(-300)}` };
  }
  return { skip: `dovecot is not installed (looked in ${FALLBACK_PATHS.join(', ')} and PATH) and cannot be installed here (${root ? 'no apt-get' : 'not root'}); install dovecot-imapd to run these tests` };
}

/** Servers and temp dirs still alive, killed/removed if the test process exits without stop(). */
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function userExists(name: string): boolean {
  return spawnSync('id', ['-u', name], { encoding: 'utf8' }).status === 0;
}

export interface DovecotOptions {
  /** Replaces the capabilities announced after login, e.g. to play a server without IDLE. */
  capabilities?: string;
}

export async function startDovecot(binary: string, users: DovecotUser[], options: DovecotOptions = {}): Promise<TestDovecot> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-dovecot-'));
  liveDirs.add(dir);
  // Dovecot's unprivileged login processes must reach the sockets under base_dir.
  chmodSync(dir, 0o755);
  const ca = createCa('Annunciator Dovecot Test CA');
  const leaf = ca.issue('localhost', ['localhost', '127.0.0.1']);
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  writeFileSync(join(dir, 'cert.pem'), leaf.cert);
  writeFileSync(join(dir, 'key.pem'), leaf.key, { mode: 0o600 });
  // Read by Dovecot's auth process, which runs as its internal user: a test file, not a secret.
  writeFileSync(join(dir, 'passwd'), users.map((u) => `${u.user}:{PLAIN}${u.password}`).join('\n') + '\n', { mode: 0o644 });
  const home = join(dir, 'home');
  mkdirSync(home);
  for (const sub of ['run', 'state']) mkdirSync(join(dir, sub));

  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const me = userInfo();
  let mailUid = me.uid;
  let mailGid = me.gid;
  let internalUser = me.username;
  let loginUser = me.username;
  let internalGroup = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim() || me.username;
  if (root) {
    if (!userExists('dovecot') || !userExists('dovenull')) throw new Error('running as root, Dovecot needs the system users dovecot and dovenull (created by the dovecot-core package)');
    internalUser = 'dovecot';
    internalGroup = 'dovecot';
    loginUser = 'dovenull';
    mailUid = 65534;
    mailGid = 65534;
    chownSync(home, mailUid, mailGid);
  }

  const logFile = join(dir, 'dovecot.log');
  const imapPort = await freePort();
  let imapsPort = await freePort();
  while (imapsPort === imapPort) imapsPort = await freePort();
  const config = [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${logFile}`,
    `info_log_path = ${logFile}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    'ssl = yes',
    `ssl_cert = <${dir}/cert.pem`,
    `ssl_key = <${dir}/key.pem`,
    'ssl_min_protocol = TLSv1.2',
    'disable_plaintext_auth = yes',
    'auth_mechanisms = plain login',
    'auth_verbose = yes',
    // Dovecot answers a refused login after 2 s, and the next ones from the same address
    // after 4, 8, 15 s (anvil's auth penalty, against password guessing): both off, the
    // tests of refused logins are about the gateway's backoff, not the server's.
    'auth_failure_delay = 0',
    `default_internal_user = ${internalUser}`,
    `default_internal_group = ${internalGroup}`,
    `default_login_user = ${loginUser}`,
    'first_valid_uid = 1',
    `mail_location = maildir:~/Maildir`,
    // IDLE notices other sessions' APPENDs by inotify; this is the fallback where that is missing.
    'mailbox_idle_check_interval = 1 secs',
    ...(options.capabilities ? [`imap_capability = ${options.capabilities}`] : []),
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    '}',
    'service imap-login {',
    `  inet_listener imap {`,
    '    address = 127.0.0.1',
    `    port = ${imapPort}`,
    '  }',
    '  inet_listener imaps {',
    '    address = 127.0.0.1',
    `    port = ${imapsPort}`,
    '    ssl = yes',
    '  }',
    '  chroot =',
    '}',
    'service anvil {',
    '  chroot =',
    '  unix_listener anvil-auth-penalty {',
    '    mode = 0',
    '  }',
    '}',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${dir}/passwd`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${mailUid} gid=${mailGid} home=${home}/%u`,
    '}',
    '',
  ].join('\n');
  const configFile = join(dir, 'dovecot.conf');
  writeFileSync(configFile, config);

  const logFd = openSync(join(dir, 'stderr.log'), 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, ['-F', '-c', configFile], { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  live.add(child);
  child.unref();
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const done = (): void => {
      exited = true;
      live.delete(child);
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  const logTail = (lines = 20): string => {
    const read = (file: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    };
    return `${read(join(dir, 'stderr.log'))}${read(logFile)}`.trim().split('\n').slice(-lines).join('\n');
  };
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      const tail = logTail();
      await stop();
      throw new Error(`dovecot exited during start-up: ${tail}`);
    }
    if (await greets(imapsPort, ca.cert)) break;
    if (Date.now() > deadline) {
      const tail = logTail();
      await stop();
      throw new Error(`dovecot did not greet on 127.0.0.1:${imapsPort} within ${READY_TIMEOUT_MS} ms: ${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    host: '127.0.0.1',
    imapPort,
    imapsPort,
    ca: ca.cert,
    caFile,
    client: (user) =>
      new ImapFlow({
        host: '127.0.0.1',
        port: imapsPort,
        secure: true,
        tls: { ca: [ca.cert] },
        auth: { user: user.user, pass: user.password },
        logger: false,
        disableAutoIdle: true,
      }),
    logTail,
    stop,
  };
}

/** Whether an IMAP greeting comes over implicit TLS on `port`, verified against `ca`. */
function greets(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: [ca], servername: 'localhost' });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 2000);
    socket.once('data', (data: Buffer) => finish(data.toString('latin1').startsWith('* OK')));
    socket.once('error', () => finish(false));
  });
}
