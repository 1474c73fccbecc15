/**
 * The sealing stage (docs/spec/security.md, "Sealed dispatches"), for gateways and
 * clients alike. It runs before the security stage inbound (open, then verify) and
 * after it outbound (sign, then seal), so a seal always holds a signed dispatch.
 *
 * Inbound: a sealed dispatch still on its `host` route passes untouched (a relay does
 * no cryptography); one that ends here is opened with this engine's identity, or
 * refused (401) when it does not open or is sealed to someone else, before anything
 * else sees it. An `ident` header (an identity document) tells whom to seal to on
 * that connection. Outbound: answers to sealed requests are sealed back with the
 * request's keys; dispatches without a transaction delivered to connections that
 * presented an identity are sealed to them, one content key for all the subscribers
 * of one fan-out; and a client seals its requests and emits to its target.
 * Browser-safe.
 */
import type { Channel } from '../jstp/channel.js';
import { defaultProtocol, morphologyOf, type Dispatch } from '../jstp/dispatch.js';
import { ErrorCode, Status } from '../jstp/errors.js';
import { silentLogger, type Logger } from '../jstp/logger.js';
import type { AnswerVerdict, Stage, Verdict } from '../jstp/pipeline.js';
import { base64url, fromBase64url } from './bytes.js';
import { stateOf } from './channel-state.js';
import type { Identity } from './identity.js';
import { IDENT_HEADER, identityDocument, IdentityDocumentError, verifyIdentityDocument, type KnownIdentity } from './identity-document.js';
import { MAX_RECIPIENTS, open, openAnswer, readSealed, recipientsOf, seal, sealAnswer, type AnswerKeys, type OpeningKey, type SealRecipient } from './seal.js';
import { externalAad, mergeOpened, SEALED_HEADER, splitForSealing, type SealForm } from './sealed-dispatch.js';
import type { AgreeFunction, CryptoSuite } from './suite.js';

/** Sealed transactions remembered per connection (their answer keys). */
const MAX_TRANSACTIONS = 4096;
/** A sealed header's text is never longer than a dispatch may be. */
const MAX_SEALED_TEXT = 1 << 20;

type SealCode = typeof ErrorCode.BadSeal | typeof ErrorCode.NotRecipient | typeof ErrorCode.BadIdentityDocument;

export interface SealingCounters {
  /** Dispatches and answers this stage sealed, and the recipients they were sealed to. */
  sealed: number;
  recipients: number;
  /** Sealed dispatches and answers opened here. */
  opened: number;
  /** Sealed dispatches passed on toward their `host` hops, unopened. */
  relayed: number;
  /** Refusals by code. */
  refused: Record<string, number>;
}

export interface SealingStageOptions {
  readonly suite: CryptoSuite;
  /** Opens what is sealed to it; presents its identity document when `present` is set. */
  readonly identity?: Identity;
  /** A client's target: its requests and emits are sealed to it (setRecipient changes it). */
  readonly recipient?: SealRecipient;
  /** Emits to the target: resource visible (default) or sealed too (the sealed-resource mode). */
  readonly resources?: SealForm;
  /** Present the identity document on each connection (a client, so it is sealed to). */
  readonly present?: boolean;
  /** Seal deliveries to connections that presented an identity document (a gateway). */
  readonly sealDeliveries?: boolean;
  /** Pass sealed dispatches on toward their `host` hops (default true); false refuses them (506). */
  readonly relay?: boolean;
  readonly logger?: Logger;
}

interface SealedTransaction {
  readonly keys: AnswerKeys;
  /** The next answer's number. */
  next: number;
}

class PeerState {
  /** The identity document this connection presented: deliveries are sealed to it. */
  recipient: KnownIdentity | undefined;
  /** Requests it sealed to us, by transaction id: our answers are sealed with their keys. */
  readonly incoming = new Map<string, SealedTransaction>();
  /** Requests we sealed to it, by transaction id: its answers open with their keys. */
  readonly outgoing = new Map<string, AnswerKeys>();
  presented = false;
}

interface Batch {
  readonly dispatch: Dispatch;
  readonly entries: Map<string, { recipient: SealRecipient; resolvers: ((verdict: Verdict) => void)[] }>;
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MAX_TRANSACTIONS) map.delete(map.keys().next().value!);
  map.set(key, value);
}

export class SealingStage implements Stage {
  readonly name = 'sealing';
  private readonly suite: CryptoSuite;
  private readonly opening: OpeningKey | undefined;
  private readonly document: string | undefined;
  private recipient: SealRecipient | undefined;
  private readonly logger: Logger;
  private readonly peers = new WeakMap<Channel, PeerState>();
  private readonly batches = new Map<Dispatch, Batch>();
  /** Agrees with a throwaway secret: refuses a presented key of small order before it is used. */
  private readonly probe: AgreeFunction;
  private readonly counters: SealingCounters = { sealed: 0, recipients: 0, opened: 0, relayed: 0, refused: {} };

  constructor(private readonly options: SealingStageOptions) {
    this.suite = options.suite;
    this.opening = options.identity ? { kid: options.identity.kid, agree: options.suite.agreement(options.identity.secrets.agreement) } : undefined;
    this.document = options.identity && options.present ? identityDocument(options.identity) : undefined;
    this.recipient = options.recipient;
    this.logger = options.logger ?? silentLogger();
    this.probe = options.suite.ephemeral().agree;
  }

  /** Seal this client's requests and emits to `recipient` from now on (undefined: stop). */
  setRecipient(recipient: SealRecipient | undefined): void {
    this.recipient = recipient;
  }

  stats(): SealingCounters {
    return { ...this.counters, refused: { ...this.counters.refused } };
  }

  detached(channel: Channel): void {
    this.peers.delete(channel);
  }

  // ---- inbound ------------------------------------------------------------------------

  inbound(dispatch: Dispatch, from: Channel | undefined): Verdict {
    if (!from) return dispatch;
    let current = dispatch;
    if (current[IDENT_HEADER] !== undefined) {
      const refused = this.takeIdentity(current[IDENT_HEADER], from);
      if (refused) return refused;
      current = without(current, IDENT_HEADER);
    }
    const sealed = current[SEALED_HEADER];
    if (sealed === undefined) return current;
    if (current.host !== undefined && current.host.length > 0) return this.relay(current, sealed, from);
    const bytes = typeof sealed === 'string' && sealed.length <= MAX_SEALED_TEXT ? fromBase64url(sealed) : undefined;
    const reading = bytes ? readSealed(bytes) : { ok: false as const, failure: 'malformed' as const, reason: 'the sealed header is not base64url text' };
    if (current.method === 'ANSWER') return this.openAnswerFrom(current, reading, from);
    if (!reading.ok) return this.refuse(ErrorCode.BadSeal, `bad seal: ${reading.reason}`, current, from);
    if (reading.parts.kind !== 'dispatch') return this.refuse(ErrorCode.BadSeal, 'bad seal: only an ANSWER is sealed in the answer form', current, from);
    if (!this.opening) return this.refuse(ErrorCode.NotRecipient, 'this engine has no identity: it opens nothing sealed', current, from);
    const transactionId = current.token?.[0];
    const opened = open(this.suite, this.opening, reading.parts, (more) => externalAad(current, more), transactionId !== undefined);
    if (!opened.ok) return this.refuse(opened.failure === 'not-recipient' ? ErrorCode.NotRecipient : ErrorCode.BadSeal, `${opened.failure === 'not-recipient' ? 'not the recipient' : 'bad seal'}: ${opened.reason}`, current, from);
    // Remembered before the content is judged: even a refusal of it goes back sealed.
    if (transactionId !== undefined && opened.answerKeys) remember(this.peer(from).incoming, transactionId, { keys: opened.answerKeys, next: 0 });
    const merged = mergeOpened(current, opened.plaintext);
    if (!merged.ok) return { answer: Status.BadDispatch, reason: merged.reason, details: { code: ErrorCode.BadDispatch } };
    this.counters.opened++;
    let inner = merged.dispatch;
    if (inner[IDENT_HEADER] !== undefined) {
      const refused = this.takeIdentity(inner[IDENT_HEADER], from);
      if (refused) return refused;
      inner = without(inner, IDENT_HEADER);
    }
    return inner;
  }

  private relay(dispatch: Dispatch, sealed: unknown, from: Channel): Verdict {
    if (this.options.relay === false) return { answer: Status.GatewayDisabled, reason: 'this engine does not relay sealed dispatches', details: { code: ErrorCode.Forwarding } };
    this.counters.relayed++;
    // What a relay knows of it, and all it logs: never more than the outside. Read only
    // when the line is written (a logger calls toJSON then), so relaying costs no decoding.
    const bytes = lazy(() => (typeof sealed === 'string' ? fromBase64url(sealed) : undefined));
    const to = {
      toJSON: (): string[] | undefined => {
        const reading = bytes.value ? readSealed(bytes.value) : undefined;
        return reading?.ok ? recipientsOf(reading.parts) : undefined;
      },
    };
    this.logger.trace({ channel: from.id, hops: dispatch.host, to, bytes: { toJSON: () => bytes.value?.length } }, 'relaying a sealed dispatch');
    return dispatch;
  }

  private openAnswerFrom(dispatch: Dispatch, reading: ReturnType<typeof readSealed>, from: Channel): Verdict {
    const transactionId = String(dispatch.resource![1]);
    const peer = this.peers.get(from);
    const keys = peer?.outgoing.get(transactionId);
    // Not to a request sealed here: a relay passes it back toward whoever sealed it.
    if (!keys) return dispatch;
    if (!reading.ok) return this.dropped(ErrorCode.BadSeal, `sealed answer dropped: ${reading.reason}`);
    const opened = openAnswer(this.suite, keys, reading.parts, externalAad(dispatch));
    if (!opened.ok) return this.dropped(ErrorCode.BadSeal, `sealed answer dropped: ${opened.reason}`);
    const merged = mergeOpened(dispatch, opened.plaintext);
    if (!merged.ok) return this.dropped(ErrorCode.BadSeal, `sealed answer dropped: ${merged.reason}`);
    if (dispatch.resource![0] === Status.NoMoreAnswers) peer!.outgoing.delete(transactionId);
    this.counters.opened++;
    return merged.dispatch;
  }

  private takeIdentity(value: unknown, from: Channel): AnswerVerdict | undefined {
    const peer = this.peer(from);
    if (peer.recipient?.document === value) return undefined;
    let known: KnownIdentity;
    try {
      known = verifyIdentityDocument(this.suite, value);
      this.probe(known.agreementKey, true);
    } catch (error) {
      const reason = error instanceof IdentityDocumentError ? error.message : 'its X25519 key is not usable';
      this.count(ErrorCode.BadIdentityDocument);
      this.logger.debug({ channel: from.id, reason }, 'identity document refused');
      return { answer: Status.Unauthorized, reason: `identity document refused: ${reason}`, details: { code: ErrorCode.BadIdentityDocument } };
    }
    peer.recipient = known;
    this.logger.debug({ channel: from.id, id: known.id }, 'deliveries sealed to the identity presented');
    return undefined;
  }

  // ---- outbound -----------------------------------------------------------------------

  outbound(dispatch: Dispatch, to: Channel): Verdict | PromiseLike<Verdict> {
    if (dispatch.method === 'ANSWER') return this.answerOut(dispatch, to);
    if (dispatch[SEALED_HEADER] !== undefined) return dispatch;
    const own = dispatch.protocol === defaultProtocol();
    const target = this.recipient;
    if (target && own && morphologyOf(dispatch.method) === 'regular') return this.sealTo(dispatch, to, target);
    const withIdentity = this.presentOn(dispatch, to);
    if (this.options.sealDeliveries && dispatch.token === undefined && morphologyOf(dispatch.method) === 'regular' && !(dispatch.host && dispatch.host.length > 0)) {
      const recipient = this.peers.get(to)?.recipient;
      if (recipient) return this.batch(withIdentity, recipient);
    }
    return withIdentity;
  }

  /** The identity document on the first dispatch of a connection that has no hops to go. */
  private presentOn(dispatch: Dispatch, to: Channel): Dispatch {
    if (!this.document || to.isClosed === true || (dispatch.host && dispatch.host.length > 0)) return dispatch;
    const peer = this.peer(to);
    if (peer.presented) return dispatch;
    peer.presented = true;
    return { ...dispatch, [IDENT_HEADER]: this.document };
  }

  private sealTo(dispatch: Dispatch, to: Channel, target: SealRecipient): Verdict {
    const transactionId = dispatch.token?.[0];
    const form: SealForm = transactionId !== undefined ? 'full' : (this.options.resources ?? 'visible');
    // Inside the seal: only the recipient learns who this is.
    const { outer, plaintext } = splitForSealing(this.presentOn(dispatch, to), form);
    const sealed = seal(this.suite, [target], plaintext, (more) => externalAad(outer, more), { answers: transactionId !== undefined });
    if (transactionId !== undefined && sealed.answerKeys) remember(this.peer(to).outgoing, transactionId, sealed.answerKeys);
    this.counters.sealed++;
    this.counters.recipients++;
    return { ...outer, [SEALED_HEADER]: base64url(sealed.bytes) };
  }

  private answerOut(dispatch: Dispatch, to: Channel): Verdict {
    const peer = this.peers.get(to);
    const transactionId = String(dispatch.resource![1]);
    const transaction = peer?.incoming.get(transactionId);
    if (!transaction || dispatch[SEALED_HEADER] !== undefined) return dispatch;
    const { outer, plaintext } = splitForSealing(dispatch, 'full');
    const bytes = sealAnswer(this.suite, transaction.keys, transaction.next++, plaintext, externalAad(outer));
    if (dispatch.resource![0] === Status.NoMoreAnswers) peer!.incoming.delete(transactionId);
    this.counters.sealed++;
    this.counters.recipients++;
    return { ...outer, [SEALED_HEADER]: base64url(bytes) };
  }

  /**
   * Deliveries of one dispatch in one turn of the event loop (the engine hands it to
   * every subscriber in a row) are sealed together: one content key, wrapped for each.
   */
  private batch(dispatch: Dispatch, recipient: KnownIdentity): Promise<Verdict> {
    let batch = this.batches.get(dispatch);
    if (!batch) {
      const fresh: Batch = { dispatch, entries: new Map() };
      this.batches.set(dispatch, fresh);
      queueMicrotask(() => this.flush(fresh));
      batch = fresh;
    }
    let entry = batch.entries.get(recipient.kidHex + recipient.id);
    if (!entry) {
      entry = { recipient, resolvers: [] };
      batch.entries.set(recipient.kidHex + recipient.id, entry);
    }
    const resolvers = entry.resolvers;
    return new Promise<Verdict>((resolve) => resolvers.push(resolve));
  }

  private flush(batch: Batch): void {
    this.batches.delete(batch.dispatch);
    const entries = [...batch.entries.values()];
    const { outer, plaintext } = splitForSealing(batch.dispatch, 'visible');
    for (let start = 0; start < entries.length; start += MAX_RECIPIENTS) {
      const chunk = entries.slice(start, start + MAX_RECIPIENTS);
      let verdict: Verdict;
      try {
        const sealed = seal(this.suite, chunk.map((entry) => entry.recipient), plaintext, (more) => externalAad(outer, more));
        verdict = { ...outer, [SEALED_HEADER]: base64url(sealed.bytes) };
        this.counters.sealed++;
        this.counters.recipients += chunk.length;
      } catch (error) {
        this.logger.error({ err: error }, 'sealing a delivery failed: not sent');
        verdict = { drop: 'sealing failed' };
      }
      for (const entry of chunk) for (const resolve of entry.resolvers) resolve(verdict);
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  private peer(channel: Channel): PeerState {
    return stateOf(this.peers, channel, () => new PeerState());
  }

  private count(code: string): void {
    this.counters.refused[code] = (this.counters.refused[code] ?? 0) + 1;
  }

  private refuse(code: SealCode, reason: string, dispatch: Dispatch, from: Channel): AnswerVerdict {
    this.count(code);
    // The outside only: a refused seal tells nothing more, and nothing of it was read.
    this.logger.debug({ code, channel: from.id, method: dispatch.method, reason }, 'sealed dispatch refused');
    return { answer: Status.Unauthorized, reason, details: { code } };
  }

  private dropped(code: SealCode, reason: string): Verdict {
    this.count(code);
    return { drop: reason };
  }
}

function lazy<T>(compute: () => T): { readonly value: T } {
  let done = false;
  let value: T;
  return {
    get value(): T {
      if (!done) {
        value = compute();
        done = true;
      }
      return value;
    },
  };
}

function without(dispatch: Dispatch, header: string): Dispatch {
  const copy = { ...dispatch };
  delete copy[header];
  return copy;
}
