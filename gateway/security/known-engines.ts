/**
 * The known-engines file (Node only): the identities a client pinned on first use for
 * each engine it sealed to, like ssh's known_hosts. One line per engine, its address
 * (`tcp://host:port`, `ws://host:port`), its identity id and its X25519 key:
 *
 *   tcp://192.168.1.20:33333 pas1... <x25519 key, base64url>
 *
 * An engine that later presents another identity is refused, with what to check and
 * how to accept it. A new X25519 key signed by the pinned identity is taken (the
 * identity vouches for it). Default place: $PASARELA_KNOWN_ENGINES, else
 * $XDG_CONFIG_HOME/pasarela/known-engines (~/.config/pasarela/known-engines).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { errors } from '../jstp/errors.js';
import { base64url } from './bytes.js';
import { writeAtomic } from './files.js';
import type { KnownIdentity } from './identity-document.js';

const HEADER = '# Engines sealed to by `pasarela call --to`, pinned on first use (like ssh\'s known_hosts).\n# ADDRESS IDENTITY-ID X25519-KEY\n';

export interface PinnedEngine {
  readonly address: string;
  readonly id: string;
  readonly agreementKey: string;
  /** 1-based, for messages. */
  readonly line: number;
}

export function defaultKnownEnginesPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PASARELA_KNOWN_ENGINES) return env.PASARELA_KNOWN_ENGINES;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'pasarela', 'known-engines');
}

export type PinOutcome = 'pinned' | 'known' | 'updated' | 'replaced';

export class KnownEngines {
  constructor(readonly path: string) {}

  private lines(): string[] {
    try {
      return readFileSync(this.path, 'utf8').split('\n');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw errors.knownEngine(`cannot read ${this.path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }

  lookup(address: string): PinnedEngine | undefined {
    const lines = this.lines();
    for (let i = 0; i < lines.length; i++) {
      const fields = lines[i]!.trim().split(/\s+/);
      if (fields[0] === address && fields.length >= 3) return { address, id: fields[1]!, agreementKey: fields[2]!, line: i + 1 };
    }
    return undefined;
  }

  /**
   * Checks `presented` against the pin for `address` and pins it when there is none.
   * `accepted`: the id the user named (`--to pas1...`), which replaces another pin.
   * Throws PASARELA_KNOWN_ENGINE when the engine presents another identity than pinned.
   */
  check(address: string, presented: KnownIdentity, accepted?: string): PinOutcome {
    const pinned = this.lookup(address);
    const key = base64url(presented.agreementKey);
    if (pinned && pinned.id !== presented.id && accepted !== presented.id) {
      throw errors.knownEngine(
        `the engine at ${address} presents identity ${presented.id} (kid ${presented.kidHex}), but ${this.path} line ${pinned.line} pins ${pinned.id} for it. ` +
          'Its key changed (it was set up again), or someone sits in between. Check the id on the engine itself ' +
          `(\`pasarela identity show\` of its identity file); if it is ${presented.id}, accept it with --to ${presented.id} ` +
          `(or delete line ${pinned.line} of ${this.path}).`,
      );
    }
    if (pinned && pinned.id === presented.id && pinned.agreementKey === key) return 'known';
    this.write(address, `${address} ${presented.id} ${key}`);
    if (!pinned) return 'pinned';
    return pinned.id === presented.id ? 'updated' : 'replaced';
  }

  private write(address: string, entry: string): void {
    const lines = this.lines().filter((line) => line.trim() !== '');
    const kept = lines.filter((line) => line.startsWith('#') || line.trim().split(/\s+/)[0] !== address);
    const body = kept.length === 0 ? HEADER : `${kept.join('\n')}\n`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeAtomic(this.path, `${body}${entry}\n`, 0o644);
    } catch (error) {
      throw errors.knownEngine(`cannot write ${this.path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
}
