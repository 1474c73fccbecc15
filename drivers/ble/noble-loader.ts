/**
 * Where the driver gets a Noble: over given bindings (a simulated radio) through
 * `@abandonware/noble/with-bindings.js`, or noble's default export, which opens the
 * host's HCI socket as it loads. That load throws (EAFNOSUPPORT) on a machine with no
 * Bluetooth adapter, so it happens only when a real adapter is configured, and its
 * failure becomes one clear "no Bluetooth adapter" error.
 */
import { createRequire } from 'node:module';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import type { Noble, NobleBindings } from './noble-types.js';

// noble is CommonJS with no `exports` map; require keeps each entry point lazy.
const require = createRequire(import.meta.url);

// noble attaches to its bindings for good (it never lets go of them): one Noble per
// bindings object, so a driver started again does not leave a second one listening.
const nobles = new WeakMap<NobleBindings, Noble>();

export function nobleWithBindings(bindings: NobleBindings): Noble {
  let noble = nobles.get(bindings);
  if (!noble) {
    const withBindings = require('@abandonware/noble/with-bindings.js') as (bindings: NobleBindings) => Noble;
    noble = withBindings(bindings);
    nobles.set(bindings, noble);
  }
  return noble;
}

/** The message every "no adapter" report starts with, so logs and answers can be grepped. */
export const NO_ADAPTER = 'no Bluetooth adapter';

/** noble on the host's adapter; throws a 502 PasarelaError that says there is no adapter. */
export function nobleOnAdapter(load: () => unknown = () => require('@abandonware/noble')): Noble {
  try {
    return load() as Noble;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === 'EAFNOSUPPORT' ? 'this machine has no Bluetooth (EAFNOSUPPORT)' : (error as Error).message;
    throw errors.deviceOffline(`${NO_ADAPTER}: ${detail}`, { cause: error });
  }
}
