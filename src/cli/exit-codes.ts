/**
 * Exit codes of the `annunciator` command, one meaning each, so scripts can tell a typo on
 * the command line from a broken configuration or an unreachable upstream.
 *
 * Usage errors exit 2, as most Unix tools do (grep, diff, curl's option errors, commander's
 * own convention once overridden), rather than sysexits' 64: `$? -eq 2` means "you called it
 * wrong, nothing was done". The remaining codes keep the sysexits.h values sendmail uses,
 * because `annunciator send` stands in for sendmail in scripts that test them.
 */
export const EXIT = {
  ok: 0,
  /** The configuration is missing or invalid, or what was asked for does not exist or could not all be done. */
  failure: 1,
  /** The command line is wrong: unknown command or option, missing or malformed argument. Nothing was done. */
  usage: 2,
  /** EX_DATAERR: the input (a message, a test file) cannot be used. */
  dataErr: 65,
  /** EX_NOINPUT: an input file cannot be read. */
  noInput: 66,
  /** EX_UNAVAILABLE: a remote server could not be reached or spoke something else. */
  unavailable: 69,
  /** EX_TEMPFAIL: the store cannot take it now; try again later. */
  tempFail: 75,
} as const;

/**
 * Reports a usage error the way commander's own are reported: one line naming the command
 * and the problem, one line with where to read how to call it. Returns EXIT.usage.
 */
export function usageError(command: string, message: string): number {
  process.stderr.write(`annunciator ${command}: ${message}\n${usageHint(command)}\n`);
  return EXIT.usage;
}

export function usageHint(command: string): string {
  return `(see 'annunciator ${command ? `${command} ` : ''}--help')`;
}
