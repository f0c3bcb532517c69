import { userInfo } from 'node:os';

/** Who runs the command, for the records it writes (acks, silences, deletions): the login name, else `fallback`. */
export function userName(fallback = 'cli'): string {
  try {
    return userInfo().username;
  } catch {
    return fallback;
  }
}
