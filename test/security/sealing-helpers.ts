/**
 * Rigs for the sealing tests: engines joined by an in-memory wire that carries the
 * exact JSON (or compact CBOR) a socket would, a gateway engine with the sealing and
 * security stages as the plugin installs them, and client engines with theirs.
 */
import { decodeDispatch, encodeDispatch } from '../../gateway/jstp/codec/cbor.js';
import type { Channel } from '../../gateway/jstp/channel.js';
import { serializeDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine } from '../../gateway/jstp/engine.js';
import { ClientSecurityStage } from '../../gateway/security/client-stage.js';
import type { Identity } from '../../gateway/security/identity.js';
import { nodeSuite } from '../../gateway/security/node-suite.js';
import { createPolicy, type AnonymousLevel } from '../../gateway/security/policy.js';
import { memoryReplayStore, ReplayGuard } from '../../gateway/security/replay.js';
import type { SealRecipient } from '../../gateway/security/seal.js';
import { SealingStage, type SealingStageOptions } from '../../gateway/security/sealing-stage.js';
import { SecurityStage } from '../../gateway/security/security-stage.js';
import { owner, signerFor } from './helpers.js';

/** One end of a wire: what this engine sends through it arrives at the other engine. */
export class WireChannel implements Channel {
  other!: WireChannel;
  /** Every dispatch sent through this end, as the wire carried it (JSON text, or CBOR hex). */
  readonly carried: string[] = [];
  isClosed = false;
  constructor(readonly id: string, readonly engine: Engine, private readonly encoding: 'json' | 'cbor') {}

  send(dispatch: Dispatch, text?: string): void {
    if (this.isClosed) return;
    if (this.encoding === 'json') {
      const written = text ?? serializeDispatch(dispatch);
      this.carried.push(written);
      setImmediate(() => this.other.engine.receive(JSON.parse(written), this.other, written));
    } else {
      const bytes = encodeDispatch(dispatch).slice();
      this.carried.push(Buffer.from(bytes).toString('hex'));
      setImmediate(() => this.other.engine.receive(decodeDispatch(bytes), this.other));
    }
  }

  /** The dispatches carried, parsed back. */
  get dispatches(): Record<string, unknown>[] {
    return this.carried.map((item) => (this.encoding === 'json' ? (JSON.parse(item) as Record<string, unknown>) : decodeDispatch(Buffer.from(item, 'hex'))));
  }
}

/** Joins two engines: [a's channel to b, b's channel to a]. */
export function wire(a: Engine, b: Engine, name: string, encoding: 'json' | 'cbor' = 'json'): [WireChannel, WireChannel] {
  const ab = new WireChannel(`${name}>`, a, encoding);
  const ba = new WireChannel(`${name}<`, b, encoding);
  ab.other = ba;
  ba.other = ab;
  return [ab, ba];
}

export interface SealedGateway {
  engine: Engine;
  sealing: SealingStage;
  security: SecurityStage;
}

/** A gateway engine as the security plugin sets it up: sealing first, then security. */
export function sealedGateway(identity: Identity | undefined, options: { anonymous?: AnonymousLevel; relay?: boolean } = {}): SealedGateway {
  const engine = new Engine({ answerTimeoutMs: 2_000 });
  const sealing = new SealingStage({ suite: nodeSuite, ...(identity ? { identity } : {}), sealDeliveries: true, ...(options.relay === undefined ? {} : { relay: options.relay }) });
  engine.use(sealing);
  const security = new SecurityStage({
    suite: nodeSuite,
    policy: createPolicy(nodeSuite, [owner.id], options.anonymous ?? 'none'),
    replay: new ReplayGuard(memoryReplayStore()),
    ...(identity ? { signer: signerFor(identity) } : {}),
  });
  engine.use(security);
  return { engine, sealing, security };
}

export interface SealedClient {
  engine: Engine;
  sealing: SealingStage;
}

/** A client engine: signs as `identity`, seals to `to`, presents its identity document. */
export function sealedClient(identity: Identity, options: { to?: SealRecipient; grant?: string; trusted?: Identity[]; resources?: SealingStageOptions['resources'] } = {}): SealedClient {
  const engine = new Engine({ answerTimeoutMs: 2_000 });
  const sealing = new SealingStage({ suite: nodeSuite, identity, present: true, ...(options.to ? { recipient: options.to } : {}), ...(options.resources ? { resources: options.resources } : {}) });
  engine.use(sealing);
  engine.use(new ClientSecurityStage({ suite: nodeSuite, signer: signerFor(identity, 8192), ...(options.grant ? { grant: options.grant } : {}), ...(options.trusted ? { trusted: options.trusted } : {}) }));
  return { engine, sealing };
}

export const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
