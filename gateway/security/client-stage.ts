/**
 * The client's side of docs/spec/security.md, as a stage for `client.use()`: signs
 * what the client sends, presents its grant once per connection (and with every
 * dispatch that travels on through `host` hops), skips a block of sequence numbers on
 * each new connection, and, when told whom to trust, refuses answers and deliveries
 * not signed by them. Browser-safe.
 */
import type { Channel } from '../jstp/channel.js';
import { defaultProtocol, type Dispatch } from '../jstp/dispatch.js';
import { ErrorCode, Status } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { Stage, Verdict } from '../jstp/pipeline.js';
import { base64url } from './bytes.js';
import { readSignature, SIG_HEADER, verifyDispatch } from './dispatch-signature.js';
import { GRANT_HEADER } from './grant.js';
import { VerifierCache, type PublicIdentity } from './identity.js';
import { memoryReplayStore, ReplayGuard } from './replay.js';
import type { DispatchSigner } from './signer.js';
import type { SignatureSuite } from './suite.js';

const MAX_REMEMBERED = 4096;
const EMPTY = new Uint8Array(0);

export interface ClientSecurityOptions {
  readonly suite: SignatureSuite;
  /** Signs what the client sends; without one, nothing is signed. */
  readonly signer?: DispatchSigner;
  /** The grant chain's text (a grant file's content), presented once per connection. */
  readonly grant?: string;
  /** Every answer and delivery must be signed by one of these; others are refused. */
  readonly trusted?: readonly PublicIdentity[];
  readonly logger?: Logger;
  readonly now?: () => number;
}

function remember(map: Map<string, Uint8Array>, key: string, value: Uint8Array): void {
  if (map.size >= MAX_REMEMBERED) map.delete(map.keys().next().value!);
  map.set(key, value);
}

export class ClientSecurityStage implements Stage {
  readonly name = 'security';
  private readonly connections = new WeakSet<Channel>();
  /** Our requests by transaction id: the protected header their answers sign as external_aad. */
  private readonly requests = new Map<string, Uint8Array>();
  /** Requests delivered to us, by transaction id: what our answers to them bind to. */
  private readonly delivered = new Map<string, Uint8Array>();
  private readonly verifiers: VerifierCache;
  private trusted: readonly PublicIdentity[];
  private readonly replay: ReplayGuard;
  private readonly logger: Logger;
  private presentAgain = false;

  constructor(private readonly options: ClientSecurityOptions) {
    this.verifiers = new VerifierCache(options.suite);
    this.trusted = options.trusted ?? [];
    this.logger = options.logger ?? silentLogger();
    this.replay = new ReplayGuard(memoryReplayStore(), options.now);
  }

  /** Trust answers and deliveries signed by `identity` too (a target learnt once connected). */
  trust(identity: PublicIdentity): void {
    if (!this.trusted.some((known) => known.id === identity.id)) this.trusted = [...this.trusted, identity];
  }

  outbound(dispatch: Dispatch, to: Channel): Verdict {
    const signer = this.options.signer;
    // Nothing to sign for a connection that is down (the client's stand-in while it redials).
    if (!signer || to.isClosed === true || dispatch.protocol !== defaultProtocol() || dispatch[SIG_HEADER] !== undefined) return dispatch;
    let present = this.presentAgain || (dispatch.host !== undefined && dispatch.host.length > 0);
    if (!this.connections.has(to)) {
      this.connections.add(to);
      signer.counter.skipBlock();
      present = true;
    }
    const grant = this.options.grant;
    const extra = present && grant !== undefined && dispatch.method !== 'ANSWER' ? { [GRANT_HEADER]: grant } : undefined;
    if (extra) this.presentAgain = false;
    const transactionId = dispatch.token?.[0];
    const aad = dispatch.method === 'ANSWER' ? this.delivered.get(String(dispatch.resource![1])) : undefined;
    const signed = signer.sign(dispatch, aad, extra);
    if (transactionId !== undefined && dispatch.method !== 'ANSWER') remember(this.requests, transactionId, signed.protectedBytes);
    return signed.dispatch;
  }

  inbound(dispatch: Dispatch, from: Channel | undefined): Verdict {
    if (!from) return dispatch;
    if (dispatch.method === 'ANSWER') return this.answer(dispatch);
    const transactionId = dispatch.token?.[0];
    const reading = dispatch[SIG_HEADER] === undefined ? undefined : readSignature(dispatch[SIG_HEADER]);
    if (transactionId !== undefined && reading?.ok) remember(this.delivered, transactionId, reading.signature.protectedBytes);
    if (this.trusted.length === 0) return dispatch;
    const signer = reading?.ok ? this.verify(dispatch, reading.signature, EMPTY) : undefined;
    if (!signer) return { drop: 'not signed by a trusted identity' };
    const check = this.replay.check(base64url(signer.signingKey), reading!.ok ? reading!.signature.sequence : 0, dispatch.timestamp);
    if (!check.ok) return { drop: check.reason };
    void this.replay.accept(base64url(signer.signingKey), reading!.ok ? reading!.signature.sequence : 0);
    return dispatch;
  }

  private answer(dispatch: Dispatch): Verdict {
    const [status, transactionId] = dispatch.resource as [number, string];
    const code = (dispatch.body as { code?: unknown } | undefined)?.code;
    if (status === Status.Unauthorized && code === ErrorCode.Replay) {
      // The far end restarted with a ceiling above our numbers, or another sender with
      // this identity is ahead: a fresh range starts above both.
      this.options.signer?.counter.jump();
    } else if (status === Status.Forbidden && code === ErrorCode.NoGrant) {
      this.presentAgain = true;
    }
    // 101 only closes the set of answers: it claims nothing to check.
    if (this.trusted.length === 0 || status === Status.NoMoreAnswers) return dispatch;
    const aad = this.requests.get(transactionId) ?? EMPTY;
    const reading = dispatch[SIG_HEADER] === undefined ? undefined : readSignature(dispatch[SIG_HEADER]);
    const signer = reading?.ok ? this.verify(dispatch, reading.signature, aad) : undefined;
    if (signer) return dispatch;
    // The status it claimed goes into the reason: a relay's 502 says where the trouble was.
    const reason = `${reading === undefined ? 'the answer is not signed' : reading.ok ? 'the answer is not signed by a trusted identity, or not for this request' : `the answer's signature is bad: ${reading.reason}`} (it said ${status})`;
    this.logger.warn({ transactionId, status, reason }, 'answer refused');
    // Refused here: the caller sees why instead of waiting for a timeout.
    return { ...dispatch, resource: [Status.Unauthorized, ...dispatch.resource!.slice(1)], body: { reason, code: reading === undefined ? ErrorCode.Unsigned : ErrorCode.BadSignature }, [SIG_HEADER]: undefined };
  }

  private verify(dispatch: Dispatch, signature: Parameters<typeof verifyDispatch>[2], aad: Uint8Array): PublicIdentity | undefined {
    for (const identity of this.trusted) {
      if (identity.kidHex !== signature.kidHex) continue;
      if (verifyDispatch(this.verifiers.for(identity.signingKey), dispatch, signature, aad)) return identity;
    }
    return undefined;
  }
}
