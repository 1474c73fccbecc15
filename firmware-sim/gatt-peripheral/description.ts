/**
 * A simulated GATT peripheral described as data, the way a device profile is: what
 * it advertises, its services and characteristics, and each characteristic's value in
 * the Bluetooth SIG's own terms (a Characteristic Presentation Format: `sint16` with
 * `exponent: -2` is a temperature in 0.01 °C). Validated with zod; `parsePeripheral`
 * names the field of each problem.
 *
 * ```yaml
 * localName: Thermo-1
 * address: "c0:ff:ee:18:1a:01"
 * advertise: [181a]
 * services:
 *   - uuid: 181a                  # Environmental Sensing
 *     characteristics:
 *       - { uuid: 2a6e, name: temperature, properties: [read, notify], format: sint16, exponent: -2, value: 21.5 }
 * ```
 */
import { z } from 'zod';

export const FORMATS = ['boolean', 'uint8', 'sint8', 'uint16', 'sint16', 'uint32', 'sint32', 'utf8'] as const;
export type ValueFormat = (typeof FORMATS)[number];

const uuid = z.string().regex(/^(?:[0-9a-f]{4}|[0-9a-f]{8}|[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})$/i, 'a 16-, 32- or 128-bit uuid');

const characteristicSchema = z.strictObject({
  uuid,
  /** How tests and the simulator's API name it (default: its uuid). */
  name: z.string().min(1).optional(),
  properties: z.array(z.enum(['read', 'write', 'writeWithoutResponse', 'notify', 'indicate'])).min(1),
  format: z.enum(FORMATS),
  /** The value is `raw × 10^exponent` (numeric formats). */
  exponent: z.number().int().min(-10).max(10).default(0),
  /** The value it starts with. */
  value: z.union([z.number(), z.boolean(), z.string()]),
});

export const peripheralSchema = z.strictObject({
  localName: z.string().min(1),
  address: z.string().regex(/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i, 'aa:bb:cc:dd:ee:ff'),
  /** Service uuids in the advertisement. */
  advertise: z.array(uuid).default([]),
  services: z.array(z.strictObject({ uuid, characteristics: z.array(characteristicSchema).min(1) })).min(1),
});

export type PeripheralDescription = z.output<typeof peripheralSchema>;
export type CharacteristicDescription = PeripheralDescription['services'][number]['characteristics'][number];

/** Validates a description; throws an Error naming the field of each problem. */
export function parsePeripheral(data: unknown): PeripheralDescription {
  const result = peripheralSchema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  throw new Error(`peripheral description: ${problems.join('; ')}`);
}
