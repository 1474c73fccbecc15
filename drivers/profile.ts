/**
 * Device profiles as data: loading and validation. A profile declares properties,
 * actions and events (the description `GET ["devices", id]` returns) plus each
 * driver's own binding keys (a GATT uuid, a JSON path, a command). A driver passes
 * the schema of its keys as an extension, so a typo anywhere is an error that names
 * the profile and the field, e.g. `profile "room-sensor": properties.humidity.unit: ...`.
 */
import { z } from 'zod';
import { ErrorCode, PasarelaError } from '../gateway/jstp/errors.js';
import { converterSpecSchema } from './converters.js';
import type { ActionSpec, DeviceDescription, EventSpec, PropertySpec, ValueSchema } from './driver.js';
import { checkValue } from './value-check.js';
import { explainIssue } from './zod-issues.js';

const VALUE_TYPES = ['number', 'integer', 'boolean', 'string', 'object', 'array', 'null'] as const;

// A getter keeps the recursion lazy (zod 4's way of writing recursive objects).
const valueShape = {
  type: z.enum(VALUE_TYPES).optional(),
  enum: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  minLength: z.number().int().min(0).optional(),
  maxLength: z.number().int().min(0).optional(),
  get properties() {
    return z.record(z.string(), valueSchema).optional();
  },
  required: z.array(z.string()).optional(),
  additionalProperties: z.boolean().optional(),
  get items() {
    return valueSchema.optional();
  },
  title: z.string().optional(),
  description: z.string().optional(),
  /** Must itself fit the schema. */
  default: z.json().optional(),
};

function checkRanges(input: unknown, ctx: z.RefinementCtx<any>): void {
  const value = input as ValueSchema;
  if (value.minimum !== undefined && value.maximum !== undefined && value.minimum > value.maximum) {
    ctx.addIssue({ code: 'custom', path: ['minimum'], message: `minimum ${value.minimum} is above maximum ${value.maximum}` });
  }
  if (value.default !== undefined) {
    const { default: fallback, ...schema } = value;
    const problem = checkValue(schema, fallback, 'default');
    if (problem) ctx.addIssue({ code: 'custom', path: ['default'], message: problem.slice('default: '.length) });
  }
}

/** A JSON Schema subset (drivers/driver.ts `ValueSchema`). */
export const valueSchema: z.ZodType<ValueSchema> = z.strictObject(valueShape).superRefine(checkRanges);

const propertyShape = {
  ...valueShape,
  unit: z.string().optional(),
  writable: z.boolean().optional(),
  observable: z.boolean().optional(),
  /** How raw device data becomes the value (drivers that need one). */
  converter: converterSpecSchema.optional(),
};

const actionShape = {
  title: z.string().optional(),
  description: z.string().optional(),
  input: valueSchema.optional(),
  output: valueSchema.optional(),
};

const eventShape = {
  title: z.string().optional(),
  description: z.string().optional(),
  data: valueSchema.optional(),
};

/** A driver's own keys, added to each level of the profile. */
export interface ProfileExtension<
  P extends z.ZodRawShape = {},
  Pr extends z.ZodRawShape = {},
  A extends z.ZodRawShape = {},
  E extends z.ZodRawShape = {},
> {
  profile?: P;
  property?: Pr;
  action?: A;
  event?: E;
}

type Out<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;

/** A loaded profile: the description's fields plus the driver's keys at each level. */
export type Profile<
  P extends z.ZodRawShape = {},
  Pr extends z.ZodRawShape = {},
  A extends z.ZodRawShape = {},
  E extends z.ZodRawShape = {},
> = Out<P> & {
  readonly name: string;
  readonly title?: string;
  readonly model: string;
  readonly manufacturer?: string;
  readonly properties: Readonly<Record<string, Out<typeof propertyShape> & Out<Pr>>>;
  readonly actions: Readonly<Record<string, Out<typeof actionShape> & Out<A>>>;
  readonly events: Readonly<Record<string, Out<typeof eventShape> & Out<E>>>;
};

/** The zod schema of a profile with a driver's extension. */
export function profileSchema<P extends z.ZodRawShape = {}, Pr extends z.ZodRawShape = {}, A extends z.ZodRawShape = {}, E extends z.ZodRawShape = {}>(
  extension: ProfileExtension<P, Pr, A, E> = {},
) {
  return z.strictObject({
    ...(extension.profile ?? ({} as P)),
    title: z.string().optional(),
    model: z.string().min(1).optional(),
    manufacturer: z.string().min(1).optional(),
    properties: z.record(z.string().min(1), z.strictObject({ ...propertyShape, ...(extension.property ?? ({} as Pr)) }).superRefine(checkRanges)).default({}),
    actions: z.record(z.string().min(1), z.strictObject({ ...actionShape, ...(extension.action ?? ({} as A)) })).default({}),
    events: z.record(z.string().min(1), z.strictObject({ ...eventShape, ...(extension.event ?? ({} as E)) })).default({}),
  });
}

/** `a.b[2].c` for messages. */
function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text || '(root)';
}

/** One problem of a profile: where (`properties.temperature.codec`, as a path) and what was wrong. */
export interface ProfileIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}


/** `properties.temperature.codec: expected ...` */
function formatIssue(issue: ProfileIssue): string {
  return `${formatPath(issue.path)}: ${issue.message}`;
}

/** A problem given as text (`field: what was wrong`) as an issue with its path. */
function parseProblem(problem: string): ProfileIssue {
  const match = /^([A-Za-z_$][\w$-]*(?:\.[^\s.:[\]]+|\[\d+\])*): (.*)$/s.exec(problem);
  if (!match) return { path: [], message: problem };
  const path = match[1]!.split(/\.|(?=\[)/).map((part) => (part.startsWith('[') ? Number(part.slice(1, -1)) : part));
  return { path, message: match[2]! };
}

/**
 * A profile that cannot be used: `profile` names it, `issues` the bad fields (paths a
 * profile file maps to its lines), `problems` the same as text.
 */
export class ProfileError extends PasarelaError {
  readonly profile: string;
  readonly issues: readonly ProfileIssue[];
  readonly problems: readonly string[];
  /** Problems as issues, or as `field: what was wrong` text (a driver's own checks). */
  constructor(profile: string, problems: readonly (ProfileIssue | string)[]) {
    const issues = problems.map((problem) => (typeof problem === 'string' ? parseProblem(problem) : problem));
    const texts = problems.map((problem) => (typeof problem === 'string' ? problem : formatIssue(problem)));
    super(ErrorCode.Profile, `profile "${profile}": ${texts.join('; ')}`);
    this.name = 'ProfileError';
    this.profile = profile;
    this.issues = issues;
    this.problems = texts;
  }
}

/**
 * Validates `data` as the profile `name` (with a driver's extension) and returns it
 * with defaults filled in. Throws a `ProfileError` naming the profile and each bad field.
 */
export function loadProfile<P extends z.ZodRawShape = {}, Pr extends z.ZodRawShape = {}, A extends z.ZodRawShape = {}, E extends z.ZodRawShape = {}>(
  name: string,
  data: unknown,
  extension: ProfileExtension<P, Pr, A, E> = {},
): Profile<P, Pr, A, E> {
  const result = profileSchema(extension).safeParse(data);
  if (!result.success) throw new ProfileError(name, result.error.issues.flatMap((issue) => explainIssue(issue, data)));
  const parsed = result.data as Record<string, unknown>;
  return { ...parsed, name, model: (parsed.model as string | undefined) ?? name } as unknown as Profile<P, Pr, A, E>;
}

function pick<T extends object>(source: object, keys: readonly (keyof T)[]): T {
  const result: Record<string, unknown> = {};
  for (const key of keys) {
    const value = (source as Record<string, unknown>)[key as string];
    if (value !== undefined) result[key as string] = value;
  }
  return result as T;
}

const PROPERTY_KEYS = Object.keys(propertyShape).filter((key) => key !== 'converter') as (keyof PropertySpec)[];
const ACTION_KEYS = Object.keys(actionShape) as (keyof ActionSpec)[];
const EVENT_KEYS = Object.keys(eventShape) as (keyof EventSpec)[];

function mapValues<T, U>(record: Readonly<Record<string, T>>, fn: (value: T) => U): Record<string, U> {
  const result: Record<string, U> = {};
  for (const [key, value] of Object.entries(record)) result[key] = fn(value);
  return result;
}

/** The description a profile declares, without the driver's binding keys. */
export function describeProfile(profile: Profile<any, any, any, any>): DeviceDescription {
  return {
    ...(profile.title === undefined ? {} : { title: profile.title }),
    model: profile.model,
    ...(profile.manufacturer === undefined ? {} : { manufacturer: profile.manufacturer }),
    properties: mapValues(profile.properties, (spec) => pick<PropertySpec>(spec, PROPERTY_KEYS)),
    actions: mapValues(profile.actions, (spec) => pick<ActionSpec>(spec, ACTION_KEYS)),
    events: mapValues(profile.events, (spec) => pick<EventSpec>(spec, EVENT_KEYS)),
  };
}
