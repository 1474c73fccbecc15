/**
 * A device gate decides which config entries the drivers run now: the fleet's
 * leases (gateway/fleet/standby.ts) let a gateway run a shared device only while it
 * holds the device's lease. Types and contract only.
 *
 * Contract: `admits` answers at once, from what the gate knows (no I/O). After
 * anything it admits changed, the gate calls every `onChange` listener; the driver
 * host then starts each driver whose entries changed again on its new list (the
 * devices of the entries it no longer admits leave the registry). An entry the gate
 * knows nothing of is admitted.
 */
import type { DeviceConfig } from '../../drivers/driver.js';

export interface DeviceGate {
  /** Whether a driver may run this config entry now. */
  admits(device: DeviceConfig): boolean;
  /** Calls `listener` whenever what the gate admits may have changed; returns the function that stops it. */
  onChange(listener: () => void): () => void;
}
