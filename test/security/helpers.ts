/**
 * Fixed identities and rigs for the security tests: keys from fixed seeds (so
 * failures are repeatable), a gateway engine with the security stage and recording
 * channels, and a way to sign dispatches as a client would.
 */
import { RecordingChannel } from '../support/stage-contract.js';
import { createDispatch, type Dispatch, type Hop } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import type { Logger } from '../../gateway/jstp/logger.js';
import type { Capability } from '../../gateway/security/capabilities.js';
import { encodeChain, issueGrant, type Grant } from '../../gateway/security/grant.js';
import { createIdentity, type Identity } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { createPolicy, type AnonymousLevel } from '../../gateway/security/policy.js';
import { memoryReplayStore, ReplayGuard, type ReplayStore } from '../../gateway/security/replay.js';
import { SecurityStage } from '../../gateway/security/security-stage.js';
import { memorySequenceStore, SequenceCounter } from '../../gateway/security/sequence.js';
import { DispatchSigner } from '../../gateway/security/signer.js';

export { RecordingChannel };

/** An identity from a one-byte seed: the same keys on every run. */
export function fixedIdentity(seed: number): Identity {
  return createIdentity(nodeSuite, { signing: new Uint8Array(32).fill(seed), agreement: new Uint8Array(32).fill(seed + 100) });
}

export const owner = fixedIdentity(1);
export const gatewayIdentity = fixedIdentity(2);
export const alice = fixedIdentity(3);
export const bob = fixedIdentity(4);
export const mallory = fixedIdentity(5);

export function signerFor(identity: Identity, start = 0): DispatchSigner {
  return new DispatchSigner(identity, new SequenceCounter(memorySequenceStore(start)));
}

export function grantTo(audience: Identity, capabilities: readonly Capability[], options: { issuer?: Identity; expires?: number; parent?: Grant; notBefore?: number } = {}): Grant {
  return issueGrant(nodeSuite, options.issuer ?? owner, {
    audience: audience.id,
    capabilities,
    ...(options.expires === undefined ? {} : { expires: options.expires }),
    ...(options.parent ? { parent: options.parent } : {}),
    ...(options.notBefore === undefined ? {} : { notBefore: options.notBefore }),
  });
}

export function chainText(...grants: Grant[]): string {
  return encodeChain(grants);
}

export interface Rig {
  engine: Engine;
  stage: SecurityStage;
  replay: ReplayGuard;
  /** A channel per peer name, made on first use. */
  channel(name: string): RecordingChannel;
}

export function securedEngine(options: { anonymous?: AnonymousLevel; owners?: Identity[]; store?: ReplayStore; signer?: DispatchSigner | false; now?: () => number; logger?: Logger } = {}): Rig {
  const engine = new Engine({ answerTimeoutMs: 2_000 });
  const replay = new ReplayGuard(options.store ?? memoryReplayStore(), options.now);
  const signer = options.signer === false ? undefined : (options.signer ?? signerFor(gatewayIdentity));
  const stage = new SecurityStage({
    suite: nodeSuite,
    policy: createPolicy(nodeSuite, (options.owners ?? [owner]).map((o) => o.id), options.anonymous ?? 'none'),
    replay,
    ...(signer ? { signer } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  engine.use(stage);
  const channels = new Map<string, RecordingChannel>();
  return {
    engine,
    stage,
    replay,
    channel(name) {
      let channel = channels.get(name);
      if (!channel) {
        channel = new RecordingChannel(name);
        channels.set(name, channel);
      }
      return channel;
    },
  };
}

let transactions = 0;

/** A request as a client's engine builds it (the client's own protocol header), with a transaction. */
export function request(method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', resource: (string | number)[], body?: unknown, host?: Hop[]): Dispatch {
  return createDispatch(method, resource, { token: [`00000000-0000-4000-8000-${String(++transactions).padStart(12, '0')}`], ...(body === undefined ? {} : { body }), ...(host ? { host } : {}) });
}

export function bindDispatch(method: string, resource: string[]): Dispatch {
  return {
    protocol: ['JSTP', '0.5', 'pasarela'],
    method: 'BIND',
    endpoint: { method: method as 'PATCH', resource },
    timestamp: Date.now(),
    token: [`00000000-0000-4000-9000-${String(++transactions).padStart(12, '0')}`],
  };
}

/** Signs as a client: `grant` goes along unsigned when given. */
export function signed(signer: DispatchSigner, dispatch: Dispatch, grant?: string): Dispatch {
  return signer.sign(dispatch, undefined, grant === undefined ? undefined : { grant }).dispatch;
}

/** Sends a dispatch over a channel as its wire would: JSON text, parsed again. */
export function send(rig: Rig, from: string, dispatch: Dispatch): void {
  const text = JSON.stringify({ token: [], ...dispatch });
  rig.engine.receive(JSON.parse(text), rig.channel(from), text);
}

export const settle = (ms = 30): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The answers a channel got for a transaction: [status, body] pairs, 101 left out. */
export function answersTo(channel: RecordingChannel, dispatch: Dispatch): { status: number; body: unknown }[] {
  const id = dispatch.token?.[0];
  return channel.sent
    .filter((d) => d.method === 'ANSWER' && d.resource![1] === id && d.resource![0] !== 101)
    .map((d) => ({ status: d.resource![0] as number, body: d.body }));
}
