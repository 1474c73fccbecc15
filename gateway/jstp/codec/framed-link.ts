/**
 * A JSTP link over link frames (shared/JSTP.md, "Link frames"): compact CBOR
 * dispatches, with this link's resource aliases, in COBS frames. Both ends of a serial
 * or BLE link use it, the gateway's driver and a device's firmware; what each does
 * with a dispatch is its own. Frames can be lost, so aliases are defined again every
 * 16 uses and 10 s.
 */
import { IMPLEMENTATION_TAG, type Dispatch } from '../dispatch.js';
import { openLink } from './cbor-link.js';
import { unrestorable, type LinkCodec, type LinkCodecStats } from './codec.js';
import { FrameDecoder, FrameEncoder, type FrameCounters } from './frames.js';

/**
 * The bare protocol header on the wire: the implementation tag would cost ten bytes
 * a frame (a microcontroller writes it bare), and without it neither side waits for
 * `101 No More Answers`.
 */
const LINK_PROTOCOL = ['JSTP', '0.5'];

export interface FramedDispatchLinkOptions {
  /** Writes one encoded frame to the byte stream. */
  write: (bytes: Uint8Array) => void;
  /** A decoded dispatch, not yet validated (the engine does that). */
  onDispatch: (raw: Record<string, unknown>) => void;
  /** A frame with a good CRC but no CBOR dispatch inside. */
  onUndecodable: (error: unknown) => void;
  /**
   * A dispatch whose resource alias this end does not know (its definition was lost,
   * or this end restarted): hand it to `Engine.refuse`, which answers it 400.
   * Without it, it is reported to `onUndecodable`.
   */
  onRefused?: (partial: Record<string, unknown>, reason: string) => void;
  /** Offer aliases from the first frame (a device's firmware does; the gateway answers offers). */
  offerAliases?: boolean;
  /** The clock of the 10 s rule (default Date.now). */
  now?: () => number;
}

export class FramedDispatchLink {
  private readonly encoder = new FrameEncoder();
  private readonly decoder = new FrameDecoder();
  private readonly codec: LinkCodec;

  constructor(private readonly options: FramedDispatchLinkOptions) {
    this.codec = openLink({ lossy: true, offerAliases: options.offerAliases ?? false, ...(options.now ? { now: options.now } : {}) });
  }

  /** Frames counted by this end's decoder (what the other end sent). */
  get counters(): FrameCounters {
    return this.decoder.counters;
  }

  /** What this link's aliases did, both ways. */
  aliasStats(): LinkCodecStats {
    return this.codec.stats();
  }

  /** The other end restarted: forget the aliases of both directions. */
  restart(): void {
    this.codec.reset();
  }

  /** Reads bytes from the stream; each frame they complete goes to `onDispatch` or `onUndecodable`. */
  receive(bytes: Uint8Array): void {
    for (const payload of this.decoder.push(bytes)) {
      let raw: Record<string, unknown>;
      try {
        raw = this.codec.decode(payload) as Record<string, unknown>;
      } catch (error) {
        const refused = unrestorable(error);
        if (refused && this.options.onRefused) this.options.onRefused(refused.partial, refused.message);
        else this.options.onUndecodable(error);
        continue;
      }
      this.options.onDispatch(raw);
    }
  }

  /** One frame of a dispatch, with the bare protocol header if it carried this implementation's. */
  frame(dispatch: Dispatch): Uint8Array {
    const bare = dispatch.protocol[2] === IMPLEMENTATION_TAG ? { ...dispatch, protocol: LINK_PROTOCOL } : dispatch;
    return this.encoder.encode(this.codec.encode(bare));
  }

  /** Writes a dispatch as one frame. */
  send(dispatch: Dispatch): void {
    this.options.write(this.frame(dispatch));
  }
}
