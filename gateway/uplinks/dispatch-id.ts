/**
 * The id an uplink gives every dispatch it forwards: `"id": [sender, boot, sequence]`,
 * where the sender names the gateway (and uplink) that accepted it, the boot is its
 * store's boot when it did, and the sequence counts the dispatches of that boot. It
 * never changes across resends, so a receiver can tell a resent dispatch from a new one.
 */
import type { Dispatch } from '../jstp/dispatch.js';

export const ID_HEADER = 'id';

export type DispatchId = readonly [sender: string, boot: number, seq: number];

/** Longest sender name a receiver remembers (longer ones are not deduplicated). */
export const MAX_SENDER_LENGTH = 200;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The dispatch's id, when it carries a well-formed one. */
export function idOf(dispatch: Dispatch): DispatchId | undefined {
  const id = dispatch[ID_HEADER];
  if (!Array.isArray(id) || id.length !== 3) return undefined;
  const [sender, boot, seq] = id as unknown[];
  if (typeof sender !== 'string' || sender.length === 0 || sender.length > MAX_SENDER_LENGTH) return undefined;
  return isCount(boot) && isCount(seq) ? [sender, boot, seq] : undefined;
}
