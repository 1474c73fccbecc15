/**
 * The gateway's security stage (docs/spec/security.md, "What a gateway checks").
 * Inbound, on every dispatch from a channel: the grants it presents (verified once
 * per connection and chain), its signature, its sequence number, and whether its
 * signer may do it; 401 or 403 otherwise. Outbound: a subscriber receives only what
 * the grants behind its BINDs cover, and what this engine produces itself (answers,
 * its devices' PATCHes and events) leaves signed by the gateway's identity.
 * Browser-safe: persistence and keys come in through the options.
 */
import type { Channel } from '../jstp/channel.js';
import { defaultProtocol, type Dispatch } from '../jstp/dispatch.js';
import { ErrorCode, Status } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { AnswerVerdict, Stage, Verdict } from '../jstp/pipeline.js';
import { base64url } from './bytes.js';
import { CapabilitySet } from './capabilities.js';
import { stateOf } from './channel-state.js';
import { readSignature, SIG_HEADER, verifyDispatch, type DispatchSignature } from './dispatch-signature.js';
import { checkValidity, decodeChain, GRANT_HEADER, GrantError, verifyChain, type VerifiedChain } from './grant.js';
import { VerifierCache, type PublicIdentity } from './identity.js';
import type { Policy } from './policy.js';
import type { ReplayGuard } from './replay.js';
import { SEALED_HEADER } from './sealed-dispatch.js';
import type { DispatchSigner } from './signer.js';
import type { SignatureSuite } from './suite.js';

/** Chains one connection may present. */
export const MAX_CHAINS_PER_CONNECTION = 16;
/** Transactions remembered per connection, to tell its answers from deliveries. */
const MAX_REMEMBERED_REQUESTS = 4096;
/** A refusal is logged once per signer and code in this time; the others are counted. */
const LOG_EVERY_MS = 10_000;
const MAX_COUNTED_SIGNERS = 256;
const EMPTY = new Uint8Array(0);

type RefusalCode =
  | typeof ErrorCode.Unsigned
  | typeof ErrorCode.BadSignature
  | typeof ErrorCode.Replay
  | typeof ErrorCode.Clock
  | typeof ErrorCode.NoGrant
  | typeof ErrorCode.NotGranted
  | typeof ErrorCode.GrantExpired
  | typeof ErrorCode.BadGrant;

export interface SecurityCounters {
  /** Dispatches whose signature verified. */
  verified: number;
  /** Dispatches this stage signed. */
  signed: number;
  /** Deliveries a subscriber's grants did not cover (dropped). */
  filtered: number;
  /** Grant chains verified (once per connection and chain). */
  chains: number;
  /** Refusals by code. */
  refused: Record<string, number>;
  /** Refusals by signer (identity id, kid, or "unsigned"). */
  refusedBy: Record<string, number>;
}

interface Rights {
  readonly capabilities: CapabilitySet;
  /** Set when the rights come from a grant, whose validity is checked on each use. */
  readonly chain?: VerifiedChain;
}

interface KnownSigner {
  readonly identity: PublicIdentity;
  readonly chains: VerifiedChain[];
}

/** What the stage knows of one connection. */
class PeerState {
  /** Chains presented here, by their text: verified, or why not. */
  readonly chains = new Map<string, VerifiedChain | GrantError>();
  /** Grant holders seen here, by kid. */
  readonly signers = new Map<string, KnownSigner[]>();
  /** The rights behind the BINDs taken from this connection; undefined until one is taken. */
  deliveryRights: Rights[] | undefined;
  /** Requests it sent, by transaction id: the protected header of their signature (empty if unsigned). */
  readonly requests = new Map<string, Uint8Array>();
  /** Requests delivered to it, by transaction id, to verify its answers against. */
  readonly delivered = new Map<string, Uint8Array>();
}

type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'unknown'; readonly kidHex: string }
  | { readonly kind: 'owner'; readonly identity: PublicIdentity; readonly signature: DispatchSignature }
  | { readonly kind: 'holder'; readonly signer: KnownSigner; readonly signature: DispatchSignature };

const ANONYMOUS: Principal = { kind: 'anonymous' };
const ALL = CapabilitySet.all();

export interface SecurityStageOptions {
  readonly suite: SignatureSuite;
  readonly policy: Policy;
  readonly replay: ReplayGuard;
  /** The gateway's own signer; without one, nothing is signed. */
  readonly signer?: DispatchSigner;
  readonly logger?: Logger;
  readonly now?: () => number;
}

function remember(map: Map<string, Uint8Array>, key: string, value: Uint8Array): void {
  if (map.size >= MAX_REMEMBERED_REQUESTS) map.delete(map.keys().next().value!);
  map.set(key, value);
}

function signerKey(identity: PublicIdentity): string {
  return base64url(identity.signingKey);
}

export class SecurityStage implements Stage {
  readonly name = 'security';
  private readonly peers = new WeakMap<Channel, PeerState>();
  private readonly signedFor = new WeakSet<Channel>();
  private readonly signedCopies = new WeakMap<Dispatch, Dispatch>();
  private readonly verifiers: VerifierCache;
  private readonly suite: SignatureSuite;
  private readonly policy: Policy;
  private readonly replay: ReplayGuard;
  private readonly signer: DispatchSigner | undefined;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly lastLogged = new Map<string, number>();
  private readonly counters: SecurityCounters = { verified: 0, signed: 0, filtered: 0, chains: 0, refused: {}, refusedBy: {} };

  constructor(options: SecurityStageOptions) {
    this.suite = options.suite;
    this.policy = options.policy;
    this.replay = options.replay;
    this.signer = options.signer;
    this.logger = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.verifiers = new VerifierCache(options.suite);
  }

  stats(): SecurityCounters & { replayWrites: number; signers: number } {
    return {
      ...this.counters,
      signed: this.signer?.signed ?? 0,
      refused: { ...this.counters.refused },
      refusedBy: { ...this.counters.refusedBy },
      replayWrites: this.replay.writeCount,
      signers: this.replay.signerCount,
    };
  }

  // ---- inbound ------------------------------------------------------------------------

  inbound(dispatch: Dispatch, from: Channel | undefined): Verdict | PromiseLike<Verdict> {
    // The gateway's own code (drivers, plugins) is trusted.
    if (!from) return dispatch;
    const peer = this.peer(from);
    if (dispatch.method === 'ANSWER') return this.answerIn(dispatch, peer);
    // Its own request: whatever this stage decides, the answer goes back to it.
    // Its answers, refusals included, are bound to its signature (external_aad) whether or
    // not its signer is known here: binding needs the header, not trust in it.
    const transactionId = dispatch.token?.[0];
    if (transactionId !== undefined) remember(peer.requests, transactionId, protectedOf(dispatch[SIG_HEADER]));
    // Sealed and on its way to another engine: its author and rights are inside, for its
    // recipient to check. The sealing stage before this one decided to relay it.
    if (dispatch[SEALED_HEADER] !== undefined && dispatch.host !== undefined && dispatch.host.length > 0) return dispatch;

    if (dispatch[GRANT_HEADER] !== undefined) {
      const refused = this.present(peer, dispatch[GRANT_HEADER], dispatch, from);
      if (refused) return refused;
    }
    const principal = this.identify(dispatch, peer, from);
    if (!isPrincipal(principal)) return principal;

    const rights = this.rightsOf(principal);
    const allowed = rights.filter((r) => this.allows(r.capabilities, dispatch));
    if (allowed.length === 0) return this.denied(dispatch, from, principal, rights);

    let waiting: Promise<void> | undefined;
    if (principal.kind === 'owner' || principal.kind === 'holder') {
      const identity = principal.kind === 'owner' ? principal.identity : principal.signer.identity;
      waiting = this.replay.accept(signerKey(identity), principal.signature.sequence);
      this.counters.verified++;
    }
    this.record(dispatch, peer, allowed);
    return waiting ? waiting.then(() => dispatch) : dispatch;
  }

  /** Verifies and caches a presented chain; an answer verdict when it is refused. */
  private present(peer: PeerState, value: unknown, dispatch: Dispatch, from: Channel): AnswerVerdict | undefined {
    if (typeof value !== 'string') return this.refuse(ErrorCode.BadGrant, 'the grant header is not text', 'unsigned', dispatch, from);
    let known = peer.chains.get(value);
    if (!known) {
      if (peer.chains.size >= MAX_CHAINS_PER_CONNECTION) return this.refuse(ErrorCode.BadGrant, `more than ${MAX_CHAINS_PER_CONNECTION} grant chains on one connection`, 'unsigned', dispatch, from);
      try {
        const chain = verifyChain(this.suite, decodeChain(value).grants, new Set(this.policy.owners.keys()));
        this.counters.chains++;
        const list = peer.signers.get(chain.holder.kidHex) ?? [];
        let entry = list.find((s) => s.identity.id === chain.holder.id);
        if (!entry) {
          entry = { identity: chain.holder, chains: [] };
          list.push(entry);
          peer.signers.set(chain.holder.kidHex, list);
        }
        entry.chains.push(chain);
        known = chain;
      } catch (error) {
        known = error instanceof GrantError ? error : new GrantError('bad-grant', 'the grant chain cannot be read');
      }
      peer.chains.set(value, known);
    }
    if (known instanceof GrantError) return this.refuse(ErrorCode.BadGrant, `grant refused: ${known.message}`, 'unsigned', dispatch, from);
    return undefined;
  }

  /** Who sent it: a verified signer, an unknown one, or nobody; an answer verdict for a bad signature or a replay. */
  private identify(dispatch: Dispatch, peer: PeerState, from: Channel): Principal | AnswerVerdict {
    const sig = dispatch[SIG_HEADER];
    if (sig === undefined) return ANONYMOUS;
    const reading = readSignature(sig);
    if (!reading.ok) return this.refuse(ErrorCode.BadSignature, `bad signature: ${reading.reason}`, 'unsigned', dispatch, from);
    const signature = reading.signature;
    const owners = this.policy.ownersByKid.get(signature.kidHex) ?? [];
    const holders = peer.signers.get(signature.kidHex) ?? [];
    if (owners.length === 0 && holders.length === 0) return { kind: 'unknown', kidHex: signature.kidHex };
    let principal: Principal | undefined;
    for (const owner of owners) {
      if (verifyDispatch(this.verifiers.for(owner.signingKey), dispatch, signature)) {
        principal = { kind: 'owner', identity: owner, signature };
        break;
      }
    }
    if (!principal) {
      for (const holder of holders) {
        if (verifyDispatch(this.verifiers.for(holder.identity.signingKey), dispatch, signature)) {
          principal = { kind: 'holder', signer: holder, signature };
          break;
        }
      }
    }
    const who = owners[0]?.id ?? holders[0]?.identity.id ?? signature.kidHex;
    if (!principal) return this.refuse(ErrorCode.BadSignature, 'the signature does not verify: the dispatch was changed, or signed by another key', who, dispatch, from);
    const identity = principal.kind === 'owner' ? principal.identity : (principal as { signer: KnownSigner }).signer.identity;
    const check = this.replay.check(signerKey(identity), signature.sequence, dispatch.timestamp);
    if (!check.ok) return this.refuse(check.code === 'clock' ? ErrorCode.Clock : ErrorCode.Replay, check.reason, identity.id, dispatch, from);
    return principal;
  }

  private rightsOf(principal: Principal): Rights[] {
    const anonymous: Rights = { capabilities: this.policy.anonymous };
    if (principal.kind === 'owner') return [{ capabilities: ALL }];
    if (principal.kind !== 'holder') return [anonymous];
    const now = this.now();
    const valid: Rights[] = [anonymous];
    for (const chain of principal.signer.chains) {
      if (isValid(chain, now)) valid.push({ capabilities: chain.capabilities, chain });
    }
    return valid;
  }

  private allows(capabilities: CapabilitySet, dispatch: Dispatch): boolean {
    if (dispatch.method === 'RELEASE') return true;
    if (dispatch.method === 'BIND') return capabilities.allowsBind(dispatch.endpoint!.method, dispatch.endpoint!.resource);
    return capabilities.allowsSend(dispatch.method, dispatch.resource!);
  }

  private denied(dispatch: Dispatch, from: Channel, principal: Principal, rights: readonly Rights[]): AnswerVerdict {
    const what = describe(dispatch);
    switch (principal.kind) {
      case 'anonymous':
        return this.refuse(ErrorCode.Unsigned, `${what} needs a signed dispatch on this gateway (anonymous: ${this.policy.anonymousLevel})`, 'unsigned', dispatch, from);
      case 'unknown':
        return this.refuse(ErrorCode.NoGrant, `${what}: no grant was presented for the signer (kid ${principal.kidHex})`, principal.kidHex, dispatch, from);
      case 'owner':
        // Unreachable: an owner may do everything.
        return this.refuse(ErrorCode.NotGranted, `${what} is not allowed`, principal.identity.id, dispatch, from);
      case 'holder': {
        const id = principal.signer.identity.id;
        const grants = rights.filter((r) => r.chain).length;
        if (grants === 0 && principal.signer.chains.length > 0) {
          const reason = expiryReason(principal.signer.chains[0]!, this.now());
          return this.refuse(ErrorCode.GrantExpired, `${what}: ${reason}`, id, dispatch, from);
        }
        return this.refuse(ErrorCode.NotGranted, `${what} is not covered by the signer's grant`, id, dispatch, from);
      }
    }
  }

  private record(dispatch: Dispatch, peer: PeerState, allowed: readonly Rights[]): void {
    if (dispatch.method === 'BIND') {
      const rights = peer.deliveryRights ?? (peer.deliveryRights = []);
      for (const r of allowed) if (!rights.some((known) => known.capabilities === r.capabilities)) rights.push(r);
    }
  }

  /** An answer from a channel: its signature is checked when its signer is known here. */
  private answerIn(dispatch: Dispatch, peer: PeerState): Verdict {
    const sig = dispatch[SIG_HEADER];
    if (sig === undefined) return dispatch;
    const reading = readSignature(sig);
    if (!reading.ok) return { drop: `answer with a bad signature: ${reading.reason}` };
    const signature = reading.signature;
    const candidates = [...(this.policy.ownersByKid.get(signature.kidHex) ?? []), ...(peer.signers.get(signature.kidHex) ?? []).map((s) => s.identity)];
    if (candidates.length === 0) return dispatch;
    const aad = peer.delivered.get(String(dispatch.resource![1])) ?? EMPTY;
    for (const candidate of candidates) {
      if (verifyDispatch(this.verifiers.for(candidate.signingKey), dispatch, signature, aad)) {
        this.counters.verified++;
        return dispatch;
      }
    }
    return { drop: 'answer whose signature does not verify' };
  }

  // ---- outbound -----------------------------------------------------------------------

  outbound(dispatch: Dispatch, to: Channel): Verdict {
    const peer = this.peers.get(to);
    if (peer?.deliveryRights && !this.deliverable(dispatch, peer, peer.deliveryRights)) {
      this.counters.filtered++;
      return { drop: 'not covered by the grants of the subscriber' };
    }
    const out = this.signer && dispatch.protocol === defaultProtocol() && dispatch[SIG_HEADER] === undefined ? this.signOut(dispatch, to, peer) : dispatch;
    // A request to this peer: its answers are verified against it.
    const transactionId = out.token?.[0];
    if (transactionId !== undefined && out.method !== 'ANSWER' && out[SIG_HEADER] !== undefined) {
      const reading = readSignature(out[SIG_HEADER]);
      if (reading.ok) remember(this.peer(to).delivered, transactionId, reading.signature.protectedBytes);
    }
    return out;
  }

  private deliverable(dispatch: Dispatch, peer: PeerState, rights: readonly Rights[]): boolean {
    if (dispatch.method === 'ANSWER') {
      // The answer to one of its own requests, or an ANSWER it observes.
      if (peer.requests.has(String(dispatch.resource![1]))) return true;
      return this.anyDelivers(rights, 'ANSWER', dispatch.resource!, false, false);
    }
    // A regular dispatch with one transaction id is a forward or a request this engine
    // makes of the peer, not a delivery (a delivered request has two). A BIND or RELEASE
    // seen by an observer keeps its sender's token, so it is always checked.
    if (dispatch.token?.length === 1 && !dispatch.endpoint) return true;
    const serving = dispatch.token?.length === 2;
    if (dispatch.endpoint) return this.anyDelivers(rights, dispatch.method, dispatch.endpoint.resource, serving, true);
    return this.anyDelivers(rights, dispatch.method, dispatch.resource!, serving, false);
  }

  private anyDelivers(rights: readonly Rights[], method: string, target: readonly (string | number)[], serving: boolean, isPattern: boolean): boolean {
    const now = this.now();
    for (const r of rights) {
      if (r.chain && !isValid(r.chain, now)) continue;
      if (r.capabilities.allowsDelivery(method, target, serving, isPattern)) return true;
    }
    return false;
  }

  private signOut(dispatch: Dispatch, to: Channel, peer: PeerState | undefined): Dispatch {
    const signer = this.signer!;
    if (!this.signedFor.has(to)) {
      // A new connection: past any ceiling its far end may have restored.
      this.signedFor.add(to);
      signer.counter.skipBlock();
    }
    if (dispatch.method === 'ANSWER') {
      const aad = peer?.requests.get(String(dispatch.resource![1])) ?? EMPTY;
      return signer.sign(dispatch, aad).dispatch;
    }
    // One signature for every subscriber of a fan-out.
    let signed = dispatch.token === undefined ? this.signedCopies.get(dispatch) : undefined;
    if (!signed) {
      signed = signer.sign(dispatch).dispatch;
      if (dispatch.token === undefined) this.signedCopies.set(dispatch, signed);
    }
    return signed;
  }

  // ---- helpers ----------------------------------------------------------------------------

  private peer(channel: Channel): PeerState {
    return stateOf(this.peers, channel, () => new PeerState());
  }

  private refuse(code: RefusalCode, reason: string, who: string, dispatch: Dispatch, from: Channel): AnswerVerdict {
    const status = code === ErrorCode.NoGrant || code === ErrorCode.NotGranted || code === ErrorCode.GrantExpired || code === ErrorCode.BadGrant ? Status.Forbidden : Status.Unauthorized;
    const counters = this.counters;
    counters.refused[code] = (counters.refused[code] ?? 0) + 1;
    if (who in counters.refusedBy || Object.keys(counters.refusedBy).length < MAX_COUNTED_SIGNERS) counters.refusedBy[who] = (counters.refusedBy[who] ?? 0) + 1;
    const key = `${who} ${code}`;
    const now = this.now();
    const last = this.lastLogged.get(key);
    if (last === undefined || now - last >= LOG_EVERY_MS) {
      if (this.lastLogged.size >= MAX_COUNTED_SIGNERS * 4) this.lastLogged.clear();
      this.lastLogged.set(key, now);
      // Never the body: who, what, and why.
      this.logger.warn({ code, status, signer: who, channel: from.id, method: dispatch.method, resource: dispatch.resource ?? dispatch.endpoint?.resource, reason, refusals: counters.refusedBy[who] }, 'dispatch refused');
    }
    return { answer: status, reason, details: { code } };
  }
}

function protectedOf(sig: unknown): Uint8Array {
  if (sig === undefined) return EMPTY;
  const reading = readSignature(sig);
  return reading.ok ? reading.signature.protectedBytes : EMPTY;
}

function isPrincipal(value: Principal | AnswerVerdict): value is Principal {
  return typeof (value as Principal).kind === 'string';
}

function isValid(chain: VerifiedChain, now: number): boolean {
  try {
    checkValidity(chain, now);
    return true;
  } catch {
    return false;
  }
}

function expiryReason(chain: VerifiedChain, now: number): string {
  try {
    checkValidity(chain, now);
    return 'the grant is not valid now';
  } catch (error) {
    return (error as Error).message;
  }
}

function describe(dispatch: Dispatch): string {
  if (dispatch.endpoint) return `${dispatch.method} ${dispatch.endpoint.method} ${dispatch.endpoint.resource.join('/')}`;
  return `${dispatch.method} ${(dispatch.resource ?? []).join('/')}`;
}
