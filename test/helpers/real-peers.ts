/**
 * The real peers the suite needs (Dovecot, Mosquitto; see docs/development.md) are
 * optional on a developer's machine and required on CI. Outside CI a test whose peer is
 * missing is skipped and says why. Under CI (`CI=true`, which `.ci/run` sets) it fails
 * instead, so a green CI run never hides a group of skipped tests.
 */

/** True under CI (`CI=true`): a missing real peer fails the run. Read on every call, so tests can set it. */
export function peersRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true';
}

export interface PeerGate {
  /** The `skip` option for the suite or test: the reason outside CI, `false` under CI or when the peer is there. */
  skip: string | false;
  /** Throws the reason under CI when the peer is missing; call it first in `before()` or in the test. */
  assertPresent(): void;
}

/** `missing`: why the peer is not there, or `false` when it is. */
export function peerGate(missing: string | false, env: NodeJS.ProcessEnv = process.env): PeerGate {
  if (missing === false) return { skip: false, assertPresent: () => undefined };
  if (!peersRequired(env)) return { skip: missing, assertPresent: () => undefined };
  return {
    skip: false,
    assertPresent: () => {
      throw new Error(`${missing}. CI=true: a real peer the suite needs is missing, which fails the run instead of skipping (.ci/run installs it; see docs/development.md)`);
    },
  };
}
