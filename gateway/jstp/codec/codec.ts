/**
 * The one interface of a binary dispatch codec, as transports, framed links, the
 * forwarding pool and the client take it (compact CBOR: see cbor.ts and `cborCodec`).
 * It is an option rather than an import so the wire code does not depend on which
 * codec is installed, and JSON-only clients never load one.
 *
 * A codec is a factory of link codecs: the compact encoding of version 2 keeps state
 * per link and per direction (resource aliases, shared/JSTP.md "Compact CBOR,
 * version 2"), so every connection or framed link opens its own, and drops it when
 * the link closes.
 */
import type { Dispatch } from '../dispatch.js';

export interface DispatchCodec {
  /** The codec state of one new link: both alias tables empty. */
  openLink(options?: LinkCodecOptions): LinkCodec;
}

export interface LinkCodecOptions {
  /**
   * Tell the peer, from the first dispatch on, that it may alias toward this end
   * (key 9 value 0). Without it this end says so only once the peer has. The client
   * and a device's firmware offer; the gateway answers offers.
   */
  offerAliases?: boolean;
  /**
   * The link may lose dispatches (serial and BLE frames): the defining form of an
   * alias is repeated at least every 16 uses and every 10 s, so a lost one heals.
   */
  lossy?: boolean;
  /** Largest dispatch accepted, in bytes (default 64 KiB). */
  maxBytes?: number;
  /** The clock of the 10 s rule (default Date.now). */
  now?: () => number;
}

export interface LinkCodecStats {
  /** The peer sent key 9: it accepts aliases, so this end uses them toward it. */
  peerAccepts: boolean;
  /** Aliases defined (or defined again) toward the peer, and dispatches sent with one. */
  definitionsSent: number;
  usesSent: number;
  /** The same from the peer. */
  definitionsReceived: number;
  usesReceived: number;
  /** Dispatches from the peer naming an alias it never defined here (refused, answered 400 when they carry a transaction). */
  unknownAliases: number;
}

/**
 * One link's encoder and decoder. `decode` throws on bytes that hold no dispatch; for
 * a dispatch it could read but not restore (an alias the peer never defined) the
 * error carries the rest of it as `partial`, so its transaction can be answered 400.
 */
export interface LinkCodec {
  /** The dispatch as this link sends it (aliased when the peer accepts aliases). May share memory with other results: do not modify it. */
  encode(dispatch: Dispatch): Uint8Array;
  /** One whole dispatch from the peer, not yet validated (the engine does that). */
  decode(bytes: Uint8Array): unknown;
  /** The peer restarted (a device booted again): both tables and what was learnt of the peer are forgotten. */
  reset(): void;
  stats(): LinkCodecStats;
}

/** What a link codec's `decode` throws for a dispatch it read but cannot restore. */
export interface UnrestorableDispatch extends Error {
  /** The dispatch without what could not be restored (its resource). */
  readonly partial: Record<string, unknown>;
}

/** The readable rest of a dispatch that `decode` refused, if that is what `error` is. */
export function unrestorable(error: unknown): UnrestorableDispatch | undefined {
  if (!(error instanceof Error)) return undefined;
  const partial = (error as { partial?: unknown }).partial;
  return typeof partial === 'object' && partial !== null ? (error as UnrestorableDispatch) : undefined;
}
