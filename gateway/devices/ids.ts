/**
 * Device ids: stable (the same driver and key give the same id after a restart) and
 * human-readable. A config entry may name a device; otherwise the id is the driver's
 * name and a slug of the key, e.g. `mqtt` + `home/kitchen` -> `mqtt-home-kitchen`.
 */
import { createHash } from 'node:crypto';

/** Lower-case letters, digits, `-`, `_` and `.`; anything else becomes `-`. */
export function slug(text: string): string {
  const result = text
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-|-$/g, '');
  return result || 'device';
}

/** The id a device gets when nothing names it. */
export function derivedId(driver: string, key: string): string {
  return `${slug(driver)}-${slug(key)}`;
}

/**
 * Used when two keys want the same id: a short hash of driver and key, so the
 * second device still gets an id that is the same on every start.
 */
export function disambiguatedId(id: string, driver: string, key: string): string {
  const hash = createHash('sha256').update(`${driver}\u0000${key}`).digest('hex').slice(0, 6);
  return `${id}-${hash}`;
}
