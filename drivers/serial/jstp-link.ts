/**
 * The `jstp-cbor` link: the device's firmware is a JSTP engine speaking compact CBOR
 * in link frames on the serial port (drivers/jstp-device-link.ts does the protocol).
 */
import { JstpDeviceLink } from '../jstp-device-link.js';
import type { Link, LinkOptions } from './link.js';
import { deviceRestarted, linkStopped, portGone } from './link-errors.js';

export class JstpLink extends JstpDeviceLink implements Link {
  readonly protocol = 'jstp-cbor' as const;

  constructor(options: LinkOptions) {
    super({
      ...options,
      channelId: `serial ${options.name}`,
      errors: {
        gone: () => portGone(options.name),
        stopped: () => linkStopped(options.name),
        restarted: () => deviceRestarted(options.name),
      },
    });
  }
}
