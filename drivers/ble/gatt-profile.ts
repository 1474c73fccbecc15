/**
 * GATT profiles: data that maps characteristics to a device's properties, actions and
 * events (validated by drivers/profile.ts with the BLE keys below), compiled into the
 * bindings the driver runs. A property reads, writes and is notified through one
 * characteristic; an action writes its input (or a fixed payload) and may read a
 * result; an event fires on a notification whose decoded value `equals` a value, or
 * carries a decoded `field` when it is not null.
 */
import { z } from 'zod';
import type { DeviceDescription } from '../driver.js';
import { describeProfile, loadProfile, ProfileError } from '../profile.js';
import { bleCodecSchema, createCodec, type BleCodecSpec, type ByteCodec } from './codecs.js';

const uuid = z
  .string()
  .regex(/^(?:[0-9a-f]{4}|[0-9a-f]{8}|[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12})$/i, 'a 16-, 32- or 128-bit uuid');

const ref = { service: uuid.optional(), characteristic: uuid };

const extension = {
  profile: {
    /** The service of every mapping that names none. */
    service: uuid.optional(),
    /** How a discovered device is recognised as this model. */
    match: z.strictObject({ services: z.array(uuid).optional(), localName: z.string().optional() }).optional(),
  },
  property: { ...ref, codec: bleCodecSchema.optional() },
  action: {
    ...ref,
    /** Encodes the action's input. */
    codec: bleCodecSchema.optional(),
    /** Or: bytes to write, as hex, for actions without input. */
    payload: z.string().regex(/^(?:[0-9a-f]{2})+$/i, 'hex bytes').optional(),
    withoutResponse: z.boolean().optional(),
    /** Read after the write; its decoded value is the action's output. */
    result: z.strictObject({ ...ref, codec: bleCodecSchema }).optional(),
  },
  event: { ...ref, codec: bleCodecSchema, equals: z.union([z.string(), z.number(), z.boolean()]).optional(), field: z.string().min(1).optional() },
};

/** noble's spelling of a uuid: lower case, no dashes. */
export function nobleUuid(value: string): string {
  return value.replace(/-/g, '').toLowerCase();
}

export interface GattRef {
  /** noble's spelling. */
  readonly service: string;
  readonly characteristic: string;
}

export const refKey = (ref: GattRef): string => `${ref.service}/${ref.characteristic}`;

export interface PropertyBinding extends GattRef {
  readonly name: string;
  readonly codec: ByteCodec;
}

export interface ActionBinding extends GattRef {
  readonly name: string;
  readonly encode: (input: unknown) => Uint8Array;
  readonly withoutResponse: boolean;
  readonly result: (GattRef & { readonly codec: ByteCodec }) | undefined;
}

export interface EventBinding extends GattRef {
  readonly name: string;
  /** The event's data for a notification, or undefined when it does not fire. */
  readonly fire: (raw: Uint8Array) => { data?: unknown } | undefined;
}

export interface GattProfile {
  readonly name: string;
  readonly description: DeviceDescription;
  readonly match: { readonly services: readonly string[]; readonly localName: RegExp | undefined };
  readonly properties: ReadonlyMap<string, PropertyBinding>;
  readonly actions: ReadonlyMap<string, ActionBinding>;
  readonly events: ReadonlyMap<string, EventBinding>;
}

interface RefData {
  service?: string;
  characteristic: string;
}

/** Validates profile data and builds its bindings; a ProfileError names the profile and the field. */
export function compileGattProfile(name: string, data: unknown): GattProfile {
  const profile = loadProfile(name, data, extension);
  const problems: string[] = [];
  const resolve = (at: string, value: RefData): GattRef => {
    const service = value.service ?? profile.service;
    if (service === undefined) problems.push(`${at}.service: required (the profile names no default service)`);
    return { service: nobleUuid(service ?? ''), characteristic: nobleUuid(value.characteristic) };
  };
  const codec = (at: string, spec: unknown): ByteCodec => {
    try {
      return createCodec(spec as BleCodecSpec);
    } catch (error) {
      problems.push(`${at}: ${(error as Error).message}`);
      return createCodec('hex');
    }
  };

  const properties = new Map<string, PropertyBinding>();
  for (const [key, spec] of Object.entries(profile.properties)) {
    const at = `properties.${key}`;
    const chosen = spec.codec ?? spec.converter;
    if (chosen === undefined) problems.push(`${at}.codec: required`);
    const built = codec(`${at}.codec`, chosen ?? 'hex');
    if (spec.writable && !built.encode) problems.push(`${at}.codec: ${built.name} cannot encode, but the property is writable`);
    properties.set(key, { name: key, ...resolve(at, spec), codec: built });
  }

  const actions = new Map<string, ActionBinding>();
  for (const [key, spec] of Object.entries(profile.actions)) {
    const at = `actions.${key}`;
    let encode: (input: unknown) => Uint8Array;
    if (spec.payload !== undefined) {
      if (spec.codec !== undefined) problems.push(`${at}: codec and payload are exclusive`);
      const bytes = Uint8Array.from(Buffer.from(spec.payload, 'hex'));
      encode = () => bytes;
    } else if (spec.codec !== undefined) {
      const built = codec(`${at}.codec`, spec.codec);
      if (!built.encode) problems.push(`${at}.codec: ${built.name} cannot encode`);
      encode = (input) => built.encode!(input) as Uint8Array;
    } else {
      problems.push(`${at}: needs a codec (for its input) or a payload`);
      encode = () => new Uint8Array();
    }
    const result = spec.result ? { ...resolve(`${at}.result`, spec.result), codec: codec(`${at}.result.codec`, spec.result.codec) } : undefined;
    actions.set(key, { name: key, ...resolve(at, spec), encode, withoutResponse: spec.withoutResponse ?? false, result });
  }

  const events = new Map<string, EventBinding>();
  for (const [key, spec] of Object.entries(profile.events)) {
    const at = `events.${key}`;
    const built = codec(`${at}.codec`, spec.codec);
    if ((spec.equals === undefined) === (spec.field === undefined)) problems.push(`${at}: give exactly one of equals, field`);
    const fire = (raw: Uint8Array): { data?: unknown } | undefined => {
      const value = built.decode(raw);
      if (spec.field !== undefined) return value === null || value === undefined ? undefined : { data: { [spec.field]: value } };
      return value === spec.equals ? {} : undefined;
    };
    events.set(key, { name: key, ...resolve(at, spec), fire });
  }

  let localName: RegExp | undefined;
  if (profile.match?.localName !== undefined) {
    try {
      localName = new RegExp(profile.match.localName);
    } catch (error) {
      problems.push(`match.localName: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ProfileError(name, problems);
  return {
    name,
    description: describeProfile(profile),
    match: { services: (profile.match?.services ?? []).map(nobleUuid), localName },
    properties,
    actions,
    events,
  };
}
