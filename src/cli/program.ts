// The command line; main.ts loads it once the Node.js version is one annunciator supports.
import { existsSync } from 'node:fs';
import { VERSION } from '../base/version.js';
import { Command, InvalidArgumentError, type CommanderError } from 'commander';
import type { AckOptions } from './ack.js';
import type { AuditOptions } from './audit.js';
import type { AlarmsOptions } from './alarms.js';
import { CONFIG_SEARCH_PATH, describeSource, findConfigFile } from './config-file.js';
import { EXIT, usageHint } from './exit-codes.js';
import type { RulesTestOptions } from './rules-test.js';
import type { SendOptions } from './send.js';
import type { SilenceAddOptions } from './silence.js';

// Each command loads what it needs when it runs: `start` does not pay for `trust`, nor `--help` for any.


const program = new Command()
  .name('annunciator')
  .description('Alarm gateway: bare plaintext SMTP from PLCs in, authenticated TLS relay out.')
  .version(VERSION, '-V, --version', 'print the version and exit')
  .option('-c, --config <file>', `configuration file (default: $ANNUNCIATOR_CONFIG, else the first of ${CONFIG_SEARCH_PATH.map((p) => (p.startsWith('/') ? p : `./${p}`)).join(', ')})`)
  .addHelpText('after', '\nExit status: 0 done, 1 configuration invalid or not found or the command failed, 2 usage error,\n65 unusable input, 66 unreadable file, 69 remote unavailable, 75 store busy (try again).');

/**
 * The configuration file the command runs with (--config, ANNUNCIATOR_CONFIG, then the
 * search path), or undefined after saying where it looked (exit 1).
 */
function configFile(): string | undefined {
  const lookup = findConfigFile(program.opts<{ config?: string }>().config, process.env, process.cwd());
  if (!lookup.ok) {
    process.stderr.write(`${lookup.problem}\n`);
    process.exitCode = EXIT.failure;
    return undefined;
  }
  if (!existsSync(lookup.file)) {
    process.stderr.write(`${lookup.file}: no such file (${describeSource(lookup.source)})\n`);
    process.exitCode = EXIT.failure;
    return undefined;
  }
  return lookup.file;
}

/** Runs a command that needs the configuration; its result is the exit code. */
async function withConfig(run: (file: string) => number | Promise<number>): Promise<void> {
  const file = configFile();
  if (file !== undefined) process.exitCode = await run(file);
}

program
  .command('start')
  .description('run the gateway')
  .action(async () => {
    const file = configFile();
    if (file !== undefined) await (await import('./start.js')).startCommand(file);
  });

program
  .command('check')
  .description('validate the configuration; exits non-zero naming file, key and problem')
  .option('--json', 'print JSON: what is configured, or every problem with its file, line and key')
  .action(async (opts: { json?: boolean }) => {
    await withConfig(async (file) => (await import('./check.js')).checkCommand(file, opts));
  });

program
  .command('send')
  .description('read a message on standard input and queue it, like sendmail (takes -t, -i, -oi, -f, -r, -F)')
  .argument('[recipients...]', 'envelope recipients (default: with -t those of the headers, else relay.recipients of the configuration)')
  .option('-f, --from <address>', 'envelope sender')
  .option('-r <address>', 'envelope sender (an older name for -f)')
  .option('-F <name>', "the sender's full name, for a From header when the message has none")
  .option('-t', 'also send to the addresses in the To, Cc and Bcc headers, and remove the Bcc header')
  .option('-i', 'a line with a single dot does not end the message (without it, as in sendmail, it does)')
  .option('-o <option>', 'a sendmail option: -oi is -i; others, such as -oem or -odb, are accepted and change nothing', (value: string, previous: string[]) => [...previous, value], [] as string[])
  .action(async (recipients: string[], opts: { from?: string; r?: string; F?: string; t?: boolean; i?: boolean; o: string[] }) => {
    const options: SendOptions = { readRecipients: opts.t === true, ignoreDots: opts.i === true, options: opts.o };
    const from = opts.from ?? opts.r;
    if (from !== undefined) options.from = from;
    if (opts.F !== undefined) options.fullName = opts.F;
    await withConfig(async (file) => (await import('./send.js')).sendCommand(file, recipients, options));
  });

const queue = program.command('queue').description('list and manage the outbox');
queue
  .command('list', { isDefault: true })
  .description('pending and failed entries with age, attempts and last error')
  .option('--all', 'include sent entries')
  .option('--json', 'print JSON')
  .action(async (opts: { all?: boolean; json?: boolean }) => {
    await withConfig(async (file) => (await import('./queue.js')).queueCommand(file, { action: 'list', ...opts }));
  });
queue
  .command('show')
  .description('one outbox entry: status, account, envelope, subject, attempts, last error, its alarms')
  .argument('<id>', 'the entry id or a unique beginning of it')
  .option('--json', 'print JSON: the same fields, times in RFC 3339')
  .option('--message', 'print the stored MIME message as it is (or was) sent, nothing else')
  .action(async (id: string, opts: { json?: boolean; message?: boolean }) => {
    await withConfig(async (file) => (await import('./queue.js')).queueCommand(file, { action: 'show', id, json: opts.json, message: opts.message }));
  });
queue
  .command('retry')
  .description('make entries due now (all pending and failed ones with --all)')
  .argument('[ids...]')
  .option('--all', 'every pending and failed entry')
  .option('--json', 'print JSON: the ids retried, those not found, those that cannot be (sent, being sent)')
  .action(async (ids: string[], opts: { all?: boolean; json?: boolean }) => {
    await withConfig(async (file) => (await import('./queue.js')).queueCommand(file, { action: 'retry', ids, all: opts.all, json: opts.json }));
  });
queue
  .command('delete')
  .description('remove entries from the outbox')
  .argument('<ids...>')
  .option('--json', 'print JSON: the entries deleted, the ids not found, those being sent')
  .action(async (ids: string[], opts: { json?: boolean }) => {
    await withConfig(async (file) => (await import('./queue.js')).queueCommand(file, { action: 'delete', ids, json: opts.json }));
  });

const store = program.command('store').description('the store: SQLite file or PostgreSQL database');
store
  .command('status', { isDefault: true })
  .description('backend, location, schema version, durability, what waits in it')
  .option('--json', 'as JSON')
  .action(async (opts: { json?: boolean }) => {
    await withConfig(async (file) => (await import('./store.js')).storeStatusCommand(file, opts));
  });
store
  .command('migrate')
  .description("bring the store to this version's schema now (the gateway also does it when it starts)")
  .action(async () => {
    await withConfig(async (file) => (await import('./store.js')).storeMigrateCommand(file));
  });
store
  .command('backup')
  .description('SQLite: copy the store, checked and whole, while the gateway runs; restore: stop, copy it back, start')
  .argument('<file>', 'where the copy goes (written beside it first, then renamed into place)')
  .action(async (target: string) => {
    await withConfig(async (file) => (await import('./store.js')).storeBackupCommand(file, target));
  });

const rules = program.command('rules').description('work with the alarm rules');
rules
  .command('test')
  .description('show the alarm record, which rules match and why, and the notification, for one .eml or JSON alarm; sends nothing')
  .argument('<file>', 'a mail as a device sends it (.eml) or a JSON alarm (.json)')
  .option('-f, --from <address>', 'envelope sender (default: the From header)')
  .option('-t, --to <address...>', 'envelope recipients (default: the To header)')
  .option('--at <time>', 'evaluate as of this time (ISO 8601; without an offset, in alarms.timeZone), for time-of-day rules')
  .option('--raw', 'print the notification as it is sent (MIME), not decoded')
  .option('--json', 'print JSON (the notification as sent, times in RFC 3339)')
  .action(async (file: string, opts: RulesTestOptions) => {
    await withConfig(async (config) => (await import('./rules-test.js')).rulesTestCommand(config, file, opts));
  });

program
  .command('alarms')
  .description('active alarms with count, first and last seen and who acknowledged them; --state, --device, --site and --severity narrow the list')
  .option('--state <state>', 'active, resolved, acknowledged, unacknowledged or all (default: active; acknowledged and unacknowledged are active ones)')
  .option('--all', 'include resolved alarms (--state all)')
  .option('--device <device>', "only this device's alarms (its id or name, any case)")
  .option('--site <site>', "only alarms of this site's devices (any case)")
  .option('--severity <list>', 'only these severities, comma-separated (critical, major, minor, warning, info)')
  .option('--show <id>', 'one alarm with its history (the id or a unique beginning of it)')
  .option('--json', 'print JSON (times in RFC 3339)')
  .action(async (opts: AlarmsOptions) => {
    await withConfig(async (file) => (await import('./alarms.js')).alarmsCommand(file, opts));
  });

program
  .command('oncall')
  .description('who is on call on each schedule, why, and the next handoff')
  .option('--at <time>', 'as of this time (ISO 8601; without an offset, in alarms.timeZone)')
  .option('--schedule <name>', 'only this schedule')
  .option('--json', 'print JSON')
  .action(async (opts: { at?: string; schedule?: string; json?: boolean }) => {
    await withConfig(async (file) => (await import('./oncall.js')).oncallCommand(file, opts));
  });

const silence = program.command('silence').description('maintenance windows: alarms they match are recorded but not notified');
silence
  .command('add')
  .description('mute matching alarms for a time window or a weekly recurrence; the running gateway picks it up at once')
  .option('-m, --match <matcher>', 'field=value, field!=value or field~regex (RE2); repeat for more, all must hold', (value: string, previous: string[]) => [...previous, value], [] as string[])
  .option('--from <time>', 'start (ISO 8601; without an offset, in --zone; default: now)')
  .option('--until <time>', 'end (ISO 8601); with --weekly, when the recurrence stops')
  .option('--for <duration>', 'length instead of --until, e.g. 2h')
  .option('--weekly <spec>', "recur every week, e.g. 'mon,tue 22:00-06:00' or 'mon-fri 12:00-13:00'")
  .option('--zone <zone>', 'IANA time zone of --weekly and of times without an offset (default: alarms.timeZone)')
  .option('--by <name>', 'who sets it (default: the user name)')
  .option('--comment <text>', 'why (required)')
  .option('--json', 'print JSON')
  .action(async (opts: SilenceAddOptions) => {
    await withConfig(async (file) => (await import('./silence.js')).silenceAddCommand(file, opts));
  });
silence
  .command('list', { isDefault: true })
  .description('silences that hold now or are to come; --all adds expired and ended ones')
  .option('--all', 'include expired and ended silences')
  .option('--json', 'print JSON')
  .action(async (opts: { all?: boolean; json?: boolean }) => {
    await withConfig(async (file) => (await import('./silence.js')).silenceListCommand(file, opts));
  });
silence
  .command('expire')
  .description('end silences now; alarms they muted that are still active are then notified')
  .argument('<ids...>')
  .option('--json', 'print JSON: per id the outcome and the silence (times in RFC 3339)')
  .action(async (ids: string[], opts: { json?: boolean }) => {
    await withConfig(async (file) => (await import('./silence.js')).silenceExpireCommand(file, ids, opts));
  });

program
  .command('audit')
  .description('the audit log, newest first: acknowledgements, silences, queue actions, reloads and logins, with who, when and from where')
  .option('--action <action>', 'only this action (e.g. silence.create, alarm.acknowledge, reload)')
  .option('--actor <name>', 'only acts of this user, token or OS user')
  .option('--target <id>', 'only acts on this alarm, silence or outbox entry')
  .option('--limit <n>', 'at most this many entries (default: 50)')
  .option('--before <id>', 'only entries older than this one (the next page)')
  .option('--json', 'print JSON (times in RFC 3339)')
  .action(async (opts: AuditOptions) => {
    await withConfig(async (file) => (await import('./audit.js')).auditCommand(file, opts));
  });

program
  .command('ack')
  .description('acknowledge an alarm: stops its escalation; the gateway tells the receivers it was sent to (alarms.notifyOnAck)')
  .argument('<alarm-id>', 'the id or a unique beginning of it')
  .option('--by <name>', 'who acknowledges (default: the user name)')
  .option('--comment <text>', 'a note, e.g. what is being done')
  .option('--json', 'print JSON')
  .action(async (alarmId: string, opts: AckOptions) => {
    await withConfig(async (file) => (await import('./ack.js')).ackCommand(file, alarmId, opts));
  });

const user = program.command('user').description('console and API users (http.users)');
user
  .command('hash')
  .description('read a password (standard input, or asked twice without echo on a terminal) and print its scrypt hash for http.users[].passwordHash')
  .action(async () => {
    process.exitCode = await (await import('./user.js')).userHashCommand();
  });

program
  .command('trust')
  .description("show an upstream's certificate chain and fingerprint; with --accept, pin it for an account")
  .argument('<host:port>')
  .option('--starttls', 'speak SMTP and upgrade with STARTTLS (port 587) instead of implicit TLS')
  .option('--accept', 'pin the certificate in the configuration')
  .option('--account <name>', 'the account to pin it for (with --accept)')
  .option('--timeout <ms>', 'give up on a server that does not answer within this many milliseconds', positiveInteger, 10_000)
  .option('--json', 'print JSON: the chain (validity in RFC 3339, SHA-256 fingerprints), whether it verified, the pin written')
  .action(async (target: string, opts: { starttls?: boolean; accept?: boolean; account?: string; timeout: number; json?: boolean }) => {
    // Only --accept writes to the configuration: showing a chain works without one.
    process.exitCode = await (await import('./trust.js')).trustCommand(configFile, target, opts);
  });

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('not a whole number above 0');
  return n;
}

/**
 * Every command reports a usage error in one line naming itself, then where its help is,
 * and exits 2 (EXIT.usage); --help and --version exit 0. Commander's default is exit 1 and
 * the whole help, which buried the one line that mattered and looked like a broken
 * configuration to scripts.
 */
function applyUsageConventions(command: Command, path: string): void {
  command
    .showHelpAfterError(usageHint(path))
    // Commander puts its "Did you mean" on a line of its own; the message stays one line.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, `annunciator${path ? ` ${path}` : ''}: `).replace(/\n\(Did you mean/, ' (did you mean')) })
    .exitOverride((error: CommanderError) => {
      process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
    });
  for (const sub of command.commands) applyUsageConventions(sub, path ? `${path} ${sub.name()}` : sub.name());
}
applyUsageConventions(program, '');

await program.parseAsync(process.argv);
