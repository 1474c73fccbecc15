/**
 * What the commands that sign share: reading `--identity` and `--grant` files,
 * `--can`/`--devices`/`--expires`, and the client stages that sign (and seal) with them.
 */
import { ClientSecurityStage } from '../security/client-stage.js';
import { fileSequenceStore, readGrantFile, readIdentityFile } from '../security/files.js';
import { capabilityText, PRESETS, presetCapabilities, type Capability, type Preset } from '../security/capabilities.js';
import { parseIdentityId, publicIdentityFromId, type Identity } from '../security/identity.js';
import { nodeSuite } from '../security/node-suite.js';
import { SequenceCounter } from '../security/sequence.js';
import type { SealForm } from '../security/sealed-dispatch.js';
import { SealingStage } from '../security/sealing-stage.js';
import { DispatchSigner } from '../security/signer.js';
import type { Client } from '../client.js';
import { connectFailure, err, EXIT_FAILURE, openClient, tlsTrust, UsageError } from './common.js';

/** Turns a file problem (PASARELA_IDENTITY) into a usage error that names it. */
function usage<T>(flag: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new UsageError(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function loadIdentity(path: string | undefined, flag = '--identity'): Identity {
  if (path === undefined) throw new UsageError(`missing ${flag} FILE`);
  return usage(flag, () => readIdentityFile(path, nodeSuite));
}

export function loadGrant(path: string): string {
  return usage('--grant', () => readGrantFile(path));
}

export function parseId(flag: string, value: string | undefined): string {
  if (value === undefined) throw new UsageError(`missing ${flag}`);
  const parsed = parseIdentityId(value);
  if (!parsed.ok) throw new UsageError(`${flag}: ${parsed.reason}`);
  return value.trim();
}

export function parseCapabilities(can: string | undefined, devices: string | undefined): { preset: Preset; devices: string[]; capabilities: Capability[] } {
  if (can === undefined) throw new UsageError(`missing --can (${PRESETS.join(', ')})`);
  if (!(PRESETS as readonly string[]).includes(can)) throw new UsageError(`--can: expected one of ${PRESETS.join(', ')}, got "${can}"`);
  const list = devices === undefined ? [] : devices.split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (devices !== undefined && list.length === 0) throw new UsageError('--devices: name at least one device id');
  try {
    return { preset: can as Preset, devices: list, capabilities: presetCapabilities(can as Preset, list) };
  } catch (error) {
    throw new UsageError(`--can ${can}: ${(error as Error).message}`);
  }
}

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `--expires 7d` (s, m, h, d, w) or an ISO date, as seconds since the epoch. */
export function parseExpires(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const relative = /^(\d+)([smhdw])$/.exec(value.trim());
  if (relative) return Math.floor(nowMs / 1000) + Number(relative[1]) * UNITS[relative[2]!]!;
  const date = Date.parse(value);
  if (Number.isNaN(date)) throw new UsageError(`--expires: expected a duration (30m, 12h, 7d, 2w) or a date (2027-01-31), got "${value}"`);
  if (date <= nowMs) throw new UsageError(`--expires: ${value} is in the past`);
  return Math.floor(date / 1000);
}

export function describeCapabilities(capabilities: readonly Capability[]): string[] {
  return capabilities.map((c) => `  ${capabilityText(c)}`);
}

export interface SigningOptions {
  identity?: string;
  grant?: string;
  'signed-by'?: string;
}

/** The client stage for `--identity`, `--grant` and `--signed-by`; undefined when none is given. */
export function clientSecurity(values: SigningOptions, identity = values.identity === undefined ? undefined : loadIdentity(values.identity)): ClientSecurityStage | undefined {
  if (values.identity === undefined && values.grant === undefined && values['signed-by'] === undefined) return undefined;
  if (values.grant !== undefined && values.identity === undefined) throw new UsageError('--grant needs --identity (the grant is for that identity)');
  const grant = values.grant === undefined ? undefined : loadGrant(values.grant);
  const trusted = values['signed-by'] === undefined ? undefined : [publicIdentityFromId(nodeSuite, parseId('--signed-by', values['signed-by']))];
  const signer = identity && values.identity !== undefined ? new DispatchSigner(identity, new SequenceCounter(usage('--identity', () => fileSequenceStore(values.identity!)))) : undefined;
  return new ClientSecurityStage({ suite: nodeSuite, ...(signer ? { signer } : {}), ...(grant ? { grant } : {}), ...(trusted ? { trusted } : {}) });
}

/** A command's client and the stages it may still need to tell something (a target found once connected). */
export interface CommandClient {
  readonly client: Client;
  readonly security: ClientSecurityStage | undefined;
  readonly sealing: SealingStage | undefined;
}

export interface SealingChoice {
  /** Install the sealing stage (`--to`, or `watch --identity` to open what is sealed to it). */
  readonly seal: boolean;
  /** Present the identity's document, so the gateway seals what it sends here. */
  readonly present?: boolean;
  /** How emits are sealed (`--seal-resource`: resource inside too). */
  readonly resources?: SealForm;
}

/**
 * The client of a command that talks to a gateway, with its `--identity`, `--grant`,
 * `--signed-by`, `--ca` and `--pin` (and, when asked, the sealing stage), connected:
 * or the exit code after saying why not.
 */
export async function connectCommand(command: string, url: string, values: SigningOptions & { ca?: string; pin?: string }, choice: SealingChoice = { seal: false }): Promise<CommandClient | number> {
  const identity = values.identity === undefined ? undefined : loadIdentity(values.identity);
  // With sealing, answers are checked against the target too, once it is known: a stage to tell.
  const security = clientSecurity(values, identity) ?? (choice.seal ? new ClientSecurityStage({ suite: nodeSuite }) : undefined);
  const sealing = choice.seal
    ? new SealingStage({ suite: nodeSuite, ...(identity ? { identity } : {}), present: choice.present === true && identity !== undefined, ...(choice.resources ? { resources: choice.resources } : {}) })
    : undefined;
  const tls = tlsTrust(values);
  // Sealing first: inbound it opens before the signature is checked, outbound it seals what was signed.
  const client = openClient(url, { ...(tls ? { tls } : {}), stages: [...(sealing ? [sealing] : []), ...(security ? [security] : [])] });
  try {
    await client.ready();
    return { client, security, sealing };
  } catch (error) {
    await client.close();
    err(`pasarela ${command}: ${connectFailure(url, error)}`);
    return EXIT_FAILURE;
  }
}

/** `connectCommand` without sealing, for commands that only sign. */
export async function connectForCommand(command: string, url: string, values: SigningOptions & { ca?: string; pin?: string }): Promise<Client | number> {
  const connected = await connectCommand(command, url, values);
  return typeof connected === 'number' ? connected : connected.client;
}

/** The parseArgs options of the signing flags. */
export const SIGNING_FLAGS = {
  identity: { type: 'string' },
  grant: { type: 'string' },
  'signed-by': { type: 'string' },
} as const;
