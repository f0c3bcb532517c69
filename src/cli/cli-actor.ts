import type { Actor } from '../pipeline/actor.js';
import { userName } from './user-name.js';

/** The command line's acts in the audit log: the OS user who ran it, via `cli`, from this host. */
export function cliActor(): Actor {
  return { name: userName(), via: 'cli', peer: null };
}
