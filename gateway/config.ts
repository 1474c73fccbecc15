/**
 * The gateway's configuration: schema (the truth for what a config file may say),
 * loading from YAML or JSON, and errors that name the file, the key and what was
 * expected. Merge order: defaults < file < flags.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { DataFileError, parseJson as parseJsonData, parseYaml as parseYamlData, type ParsedData, type SourceMap } from '../drivers/data-file.js';
import { driverEntrySchema, driversSchema } from './driver-host/config-schema.js';
import { fleetNatsSchema, fleetSchema } from './fleet/config.js';
import { parseAllowEntry } from './forwarding.js';
import { homeAssistantSchema } from './homeassistant/config.js';
import { ErrorCode, PasarelaError } from './jstp/errors.js';
import { securitySectionSchema, tlsSectionSchema } from './security/config-schema.js';
import { bufferSchema, uplinkSchema, uplinksSchema } from './uplinks/uplink-config.js';
import { clusterSchema } from './cluster/schema.js';
import { onCriticalSchema, saturationSchema, thresholdsSectionSchema } from './saturation/schema.js';
import { limitsSchema } from './limits/schema.js';
import { profilesSchema } from './profiles/config-schema.js';

function isAllowEntry(entry: string): boolean {
  try {
    parseAllowEntry(entry);
    return true;
  } catch {
    return false;
  }
}

const port = z.number().int().min(0).max(65535);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const listenSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  tcp: port.default(33333),
  http: port.default(8080),
  tls: tlsSectionSchema.optional(),
});

const forwardingSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Hops forwarding may reach (`host:port`, `host:*`); empty with `enabled` means any hop. */
  allow: z.array(z.string().refine(isAllowEntry, 'host:port or host:*')).default([]),
});

const jstpSchema = z.strictObject({
  mode: z.enum(['strict', 'quirks']).default('strict'),
  answerTimeoutMs: z.number().int().positive().default(10_000),
  // prefault: the default goes through the schema, so nested defaults apply.
  forwarding: forwardingSchema.prefault({}),
});

const logSchema = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
});

const mqttSchema = z.strictObject({
  /** Omitted: the embedded broker. */
  url: z.url({ protocol: /^(mqtts?|wss?|tcp|ssl)$/, error: 'a broker URL (mqtt:, mqtts:, ws:, wss:, tcp: or ssl:)' }).optional(),
});

/** Loose for now: each driver will validate its own fields. */
const deviceSchema = z.looseObject({
  id: z.string().min(1),
  driver: z.string().min(1),
  /** Another gateway of the fleet runs it; this one takes over when that one dies (gateway/fleet/standby.ts). */
  standby: z.boolean().optional(),
});

const rootSchema = z.strictObject({
  listen: listenSchema.prefault({}),
  jstp: jstpSchema.prefault({}),
  log: logSchema.prefault({}),
  mqtt: mqttSchema.prefault({}),
  fleet: fleetSchema.optional(),
  limits: limitsSchema.prefault({}),
  /** Driver-wide options; each driver validates its own section when it starts. */
  ble: z.looseObject({}).optional(),
  serial: z.looseObject({}).optional(),
  homeassistant: homeAssistantSchema.optional(),
  devices: z.array(deviceSchema).default([]),
  security: securitySectionSchema.optional(),
  uplinks: uplinksSchema.optional(),
  saturation: saturationSchema.prefault({}),
  cluster: clusterSchema.optional(),
  drivers: driversSchema,
  profiles: profilesSchema,
});

export const configSchema = rootSchema.superRefine((config, ctx) => {
  const seen = new Set<string>();
  config.devices.forEach((device, index) => {
    if (seen.has(device.id)) {
      ctx.addIssue({ code: 'custom', path: ['devices', index, 'id'], message: `a unique device id ("${device.id}" is used twice)` });
    }
    if (device.standby && !config.fleet) ctx.addIssue({ code: 'custom', path: ['devices', index, 'standby'], message: 'a fleet section too (a standby takes over from another gateway of the fleet)' });
    seen.add(device.id);
  });
  (config.uplinks ?? []).forEach((uplink, index) => {
    if (uplink.url.startsWith('nats:') && !config.fleet) {
      ctx.addIssue({ code: 'custom', path: ['uplinks', index, 'url'], message: 'a fleet section too (nats: is the fleet\'s cluster)' });
    }
  });
  if (config.homeassistant?.discovery && config.mqtt.url === undefined) {
    ctx.addIssue({ code: 'custom', path: ['homeassistant', 'discovery'], message: 'mqtt.url to be set too (the broker Home Assistant uses)' });
  }
});

export type Config = z.output<typeof configSchema>;
export type DeviceConfig = Config['devices'][number];

/** What the command line may set on top of a file. */
export interface ConfigOverrides {
  listen?: { host?: string; tcp?: number; http?: number };
  jstp?: { mode?: 'strict' | 'quirks'; answerTimeoutMs?: number; forwarding?: { enabled?: boolean; allow?: string[] } };
  log?: { level?: LogLevel };
  mqtt?: { url?: string };
}

export interface ConfigIssue {
  /** Dotted key path, e.g. `jstp.answerTimeoutMs` or `devices[1].id`. */
  key: string;
  /** What was expected, and what was found. */
  expected: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

/** A config that cannot be used. `source` is the file path, or `flags`/`defaults`. */
export class ConfigError extends PasarelaError {
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: ConfigIssue[], detail?: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, detail ?? formatIssues(source, issues), options);
    this.name = 'ConfigError';
    this.source = source;
    this.issues = issues;
  }
}

/** The config with nothing set: every default from the schema. */
export function defaultConfig(): Config {
  return parseConfig({}, 'defaults');
}

/** Validates an already parsed config object; `source` names it in errors. */
export function parseConfig(input: unknown, source: string, document?: SourceMap): Config {
  const result = configSchema.safeParse(dropNullSections(input));
  if (result.success) return result.data;
  throw new ConfigError(
    source,
    result.error.issues.map((issue) => describeIssue(issue, input, document)),
  );
}

/** Reads a `.yaml`, `.yml` or `.json` file and validates it, then applies `overrides`. */
export async function loadConfig(path: string, overrides: ConfigOverrides = {}): Promise<Config> {
  const extension = extname(path).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(extension)) {
    throw new ConfigError(path, [], `${path}: unsupported config file type "${extension || '(none)'}": expected .yaml, .yml or .json`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new ConfigError(path, [], `${path}: cannot read config file (${reason})`);
  }
  const { value, map } = extension === '.json' ? parseJson(path, text) : await parseYaml(path, text);
  const config = applyOverrides(parseConfig(value, path, map), overrides);
  origins.set(config, { source: path, map });
  return config;
}

/** The file each loaded config came from, and where its keys are. */
const origins = new WeakMap<Config, { source: string; map: SourceMap }>();

/** Where a key of a config is, for messages: `pasarela.yaml:12`, the file alone, or undefined (no file). */
export function configLocation(config: Config, path: readonly PropertyKey[]): string | undefined {
  const origin = origins.get(config);
  if (!origin) return undefined;
  const line = origin.map(path);
  return line === undefined ? origin.source : `${origin.source}:${line}`;
}

/** Flags win over the file; the result is validated again with `flags` as its source. */
export function applyOverrides(config: Config, overrides: ConfigOverrides): Config {
  const merged = deepMerge(config, overrides);
  return parseConfig(merged, 'flags');
}

// ---- parsing -----------------------------------------------------------------------

export type { SourceMap } from '../drivers/data-file.js';

/**
 * Parses YAML keeping where each key is (config files, profile files); a syntax error
 * is a ConfigError naming the file and the line. `yaml` is loaded for YAML files only.
 */
export async function parseYaml(path: string, text: string): Promise<ParsedData> {
  try {
    return await parseYamlData(path, text);
  } catch (error) {
    throw asConfigError(path, error);
  }
}

export function parseJson(path: string, text: string): ParsedData {
  try {
    return parseJsonData(path, text);
  } catch (error) {
    throw asConfigError(path, error);
  }
}

function asConfigError(path: string, error: unknown): unknown {
  return error instanceof DataFileError ? new ConfigError(path, [], error.message) : error;
}

// ---- messages ----------------------------------------------------------------------

function formatIssues(source: string, issues: readonly ConfigIssue[]): string {
  const sorted = [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const lines = sorted.map((issue) => {
    const where = issue.line === undefined ? source : `${source}:${issue.line}`;
    return `${where}: ${issue.key}: expected ${issue.expected}`;
  });
  return issues.length === 1 ? `config error: ${lines[0]}` : `config errors:\n  ${lines.join('\n  ')}`;
}

export function formatKey(path: readonly PropertyKey[]): string {
  let key = '';
  for (const element of path) {
    if (typeof element === 'number') key += `[${element}]`;
    else key += key === '' ? String(element) : `.${String(element)}`;
  }
  return key === '' ? '(top level)' : key;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, map: SourceMap | undefined): ConfigIssue {
  let path: PropertyKey[] = [...issue.path];
  const value = valueAt(input, issue.path);
  let expected: string;
  switch (issue.code) {
    case 'unrecognized_keys': {
      // Name the unknown key itself, and what its parent accepts.
      path = [...path, issue.keys[0]!];
      const known = knownKeys(issue.path);
      expected = known ? `one of the keys ${known.join(', ')}` : 'no other keys';
      expected += `, got unknown key${issue.keys.length > 1 ? 's' : ''} "${issue.keys.join('", "')}"`;
      break;
    }
    case 'invalid_type':
      expected = `${issue.expected === 'int' ? 'an integer' : issue.expected}, got ${describeValue(value)}`;
      break;
    case 'invalid_value':
      expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(value)}`;
      break;
    case 'custom':
      expected = issue.message;
      break;
    default:
      // too_small, too_big, invalid_format...: zod's wording after its "Too small:" prefix.
      expected = `${issue.message.replace(/^(Too small|Too big|Invalid [a-z ]+):\s*/i, '').replace(/^expected\s+/i, '')}, got ${describeValue(value)}`;
  }
  const line = map?.(path);
  return line === undefined ? { key: formatKey(path), expected } : { key: formatKey(path), expected, line };
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function knownKeys(path: readonly PropertyKey[]): string[] | undefined {
  const sections: Record<string, z.ZodObject> = {
    '': rootSchema,
    listen: listenSchema,
    jstp: jstpSchema,
    'jstp.forwarding': forwardingSchema,
    log: logSchema,
    mqtt: mqttSchema,
    security: securitySectionSchema,
    'listen.tls': tlsSectionSchema,
    homeassistant: homeAssistantSchema,
    fleet: fleetSchema,
    'fleet.nats': fleetNatsSchema,
    'uplinks.*': uplinkSchema,
    'uplinks.*.buffer': bufferSchema,
    saturation: saturationSchema,
    'saturation.thresholds': thresholdsSectionSchema,
    'saturation.onCritical': onCriticalSchema,
    cluster: clusterSchema,
    limits: limitsSchema,
    'drivers.*': driverEntrySchema,
  };
  // A list's entries share one schema: `uplinks[2]` is `uplinks.*`.
  const schema = sections[path.map((key) => (typeof key === 'number' ? '*' : String(key))).join('.')];
  return schema ? Object.keys(schema.shape) : undefined;
}

// ---- merging -----------------------------------------------------------------------

/** `listen:` with nothing under it is YAML for null; read it as "use the defaults". */
function dropNullSections(input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Objects merge key by key; anything else (arrays included) replaces; undefined is "not set". */
function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value !== undefined) result[key] = deepMerge(base[key], value);
  }
  return result;
}
