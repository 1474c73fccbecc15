/**
 * A JSTP link over link frames (shared/JSTP.md, "Link frames"): compact CBOR
 * dispatches in COBS frames. Both ends of a serial link use it, the gateway's
 * `jstp-cbor` driver and a device's firmware; what each does with a dispatch is its own.
 */
import { IMPLEMENTATION_TAG, type Dispatch } from '../dispatch.js';
import { decodeDispatch, encodeDispatch } from './cbor.js';
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
}

export class FramedDispatchLink {
  private readonly encoder = new FrameEncoder();
  private readonly decoder = new FrameDecoder();

  constructor(private readonly options: FramedDispatchLinkOptions) {}

  /** Frames counted by this end's decoder (what the other end sent). */
  get counters(): FrameCounters {
    return this.decoder.counters;
  }

  /** Reads bytes from the stream; each frame they complete goes to `onDispatch` or `onUndecodable`. */
  receive(bytes: Uint8Array): void {
    for (const payload of this.decoder.push(bytes)) {
      let raw: Record<string, unknown>;
      try {
        raw = decodeDispatch(payload);
      } catch (error) {
        this.options.onUndecodable(error);
        continue;
      }
      this.options.onDispatch(raw);
    }
  }

  /** Writes a dispatch as one frame, with the bare protocol header if it carried this implementation's. */
  send(dispatch: Dispatch): void {
    const bare = dispatch.protocol[2] === IMPLEMENTATION_TAG ? { ...dispatch, protocol: LINK_PROTOCOL } : dispatch;
    this.options.write(this.encoder.encode(encodeDispatch(bare)));
  }
}
