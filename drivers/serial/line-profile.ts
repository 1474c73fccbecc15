/**
 * Line protocol profiles: a device description plus, as data, how each property,
 * action and event maps onto text lines (commands, reply patterns, unsolicited
 * status and event lines, `ok` and `error:<code>`). Validated by drivers/profile.ts
 * with these keys as the extension, then compiled (regular expressions built once).
 */
import { z } from 'zod';
import { createConverter, type Converter } from '../converters.js';
import type { ActionSpec, DeviceDescription, PropertySpec, ValueSchema } from '../driver.js';
import { describeProfile, loadProfile, ProfileError } from '../profile.js';

const pattern = z.string().min(1).refine((source) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const lineProfileExtension = {
  profile: {
    /** The line that ends a command successfully. */
    ok: pattern.default('^ok$'),
    /** A failed command; group 1 is the error code. */
    error: pattern.default('^error:(\\d+)$'),
    /** Error codes to JSTP statuses, e.g. `{ "3": { status: 403, reason: "motors off" } }`. */
    errors: z.record(z.string(), z.strictObject({ status: z.number().int().min(400).max(599), reason: z.string() })).default({}),
    /** Sent when the port opens, to check that the device is there (answered by `ok`). */
    hello: z.string().min(1).optional(),
    /** An unsolicited line meaning the device (re)booted. */
    announce: pattern.optional(),
    /** Unsolicited status lines: named groups to properties (a group name, or an object's fields to group names). */
    status: z.array(z.strictObject({
      match: pattern,
      properties: z.record(z.string(), z.union([z.string(), z.record(z.string(), z.string())])),
    })).default([]),
  },
  property: {
    /** The command that reads it, e.g. `bat?`. */
    read: z.string().min(1).optional(),
    /** The command that writes it, `{value}` standing for the value, e.g. `speed={value}`. */
    write: z.string().min(1).optional(),
    /** The reply line carrying the value: group 1, or named groups for an object's fields. */
    reply: pattern.optional(),
    /** Device words to values, e.g. `{ Run: moving }`. */
    map: z.record(z.string(), scalar).optional(),
  },
  action: {
    /** The command, `{field}` standing for a field of the input, e.g. `move {distance}`. */
    command: z.string().min(1),
    /** The reply line whose named groups make the output. */
    reply: pattern.optional(),
  },
  event: {
    /** The unsolicited line, its named groups making the event's data. */
    match: pattern,
  },
};

export interface LineProperty {
  readonly name: string;
  readonly spec: PropertySpec;
  readonly read: string | undefined;
  readonly write: string | undefined;
  readonly reply: RegExp | undefined;
  readonly converter: Converter | undefined;
  readonly map: Readonly<Record<string, string | number | boolean>> | undefined;
}

export interface LineAction {
  readonly name: string;
  readonly spec: ActionSpec;
  readonly command: string;
  readonly reply: RegExp | undefined;
}

export interface LineStatus {
  readonly match: RegExp;
  readonly properties: readonly [string, string | Readonly<Record<string, string>>][];
}

export interface LineEvent {
  readonly name: string;
  readonly data: ValueSchema | undefined;
  readonly match: RegExp;
}

export interface LineProfile {
  readonly name: string;
  readonly description: DeviceDescription;
  readonly ok: RegExp;
  readonly error: RegExp;
  readonly errors: ReadonlyMap<string, { status: number; reason: string }>;
  readonly hello: string | undefined;
  readonly announce: RegExp | undefined;
  readonly status: readonly LineStatus[];
  readonly properties: ReadonlyMap<string, LineProperty>;
  readonly actions: ReadonlyMap<string, LineAction>;
  readonly events: readonly LineEvent[];
}

/** Validates and compiles a line profile; throws a ProfileError naming the profile and field. */
export function compileLineProfile(name: string, data: unknown): LineProfile {
  const profile = loadProfile(name, data, lineProfileExtension);
  const description = describeProfile(profile);
  const problems: string[] = [];
  const status = profile.status.map((entry, index) => {
    for (const property of Object.keys(entry.properties)) {
      if (!profile.properties[property]) problems.push(`status[${index}].properties.${property}: not a property of the profile`);
    }
    return { match: new RegExp(entry.match), properties: Object.entries(entry.properties) };
  });
  if (problems.length > 0) throw new ProfileError(name, problems);
  return {
    name,
    description,
    ok: new RegExp(profile.ok),
    error: new RegExp(profile.error),
    errors: new Map(Object.entries(profile.errors)),
    hello: profile.hello,
    announce: profile.announce === undefined ? undefined : new RegExp(profile.announce),
    status,
    properties: new Map(Object.entries(profile.properties).map(([key, spec]) => [key, {
      name: key,
      spec: description.properties![key]!,
      read: spec.read,
      write: spec.write,
      reply: spec.reply === undefined ? undefined : new RegExp(spec.reply),
      converter: spec.converter === undefined ? undefined : createConverter(spec.converter),
      map: spec.map,
    }])),
    actions: new Map(Object.entries(profile.actions).map(([key, spec]) => [key, {
      name: key,
      spec: description.actions![key]!,
      command: spec.command,
      reply: spec.reply === undefined ? undefined : new RegExp(spec.reply),
    }])),
    events: Object.entries(profile.events).map(([key, spec]) => ({ name: key, data: spec.data, match: new RegExp(spec.match) })),
  };
}
