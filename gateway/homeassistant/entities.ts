/**
 * What a device becomes in Home Assistant: one entity per property (the kind that
 * fits its type and whether it is writable), a button per action with a select,
 * number or switch per field of its input, a sensor with each action's last result,
 * and an event entity for its events; each with the discovery payload Home Assistant
 * reads, under one HA device. Also the topics state and commands travel on, which
 * mirror the JSTP resources:
 *
 * ```
 * <node>/status                                gateway online/offline (retained, last will)
 * <node>/<device>/availability                 online/offline (retained)
 * <node>/<device>/properties/<p>               state (retained); /set to write; /result
 * <node>/<device>/actions/<a>/run              press: invoke; /result
 * <node>/<device>/actions/<a>/input/<field>    the chosen input (retained); /set to choose
 * <node>/<device>/events                       {"event_type": name, ...data}
 * ```
 *
 * Pure: a description in, a plan out.
 */
import type { PropertySpec, ValueSchema } from '../../drivers/driver.js';
import type { DeviceDetails } from '../devices/registry.js';
import { numberClass, sensorClass } from './device-classes.js';
import { OFF, ON } from './payloads.js';

export type Component = 'sensor' | 'binary_sensor' | 'switch' | 'number' | 'select' | 'text' | 'button' | 'event';

export interface Entity {
  readonly component: Component;
  /** `<prefix>/<component>/<node>/<object id>/config`. */
  readonly topic: string;
  /** The discovery payload. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** What a message on a command topic does. */
export type Command =
  | { readonly kind: 'write'; readonly property: string; readonly schema: ValueSchema; readonly result: string }
  | { readonly kind: 'invoke'; readonly action: string; readonly result: string }
  | { readonly kind: 'choose'; readonly action: string; readonly field: string; readonly schema: ValueSchema; readonly state: string };

/** One field of an action's input, as Home Assistant sets it. */
export interface InputField {
  readonly schema: ValueSchema;
  readonly required: boolean;
  /** The retained topic holding the current choice. */
  readonly state: string;
  /** The choice before anyone made one (undefined: left out of the input). */
  readonly initial: unknown;
}

export interface ActionPlan {
  /** `none`: invoked without a body; `value`: the input is one value, the field named `value`. */
  readonly input: 'none' | 'object' | 'value';
  readonly fields: ReadonlyMap<string, InputField>;
}

export interface DevicePlan {
  readonly id: string;
  readonly entities: readonly Entity[];
  readonly availability: string;
  /** Property -> its state topic. */
  readonly states: ReadonlyMap<string, string>;
  /** Command topic -> what it does. */
  readonly commands: ReadonlyMap<string, Command>;
  readonly actions: ReadonlyMap<string, ActionPlan>;
  readonly events: string | undefined;
  /** Properties the device does not report by itself: read now and then. */
  readonly polled: readonly string[];
  /** Properties and actions no entity fits, with why. */
  readonly skipped: readonly string[];
}

export interface Naming {
  readonly prefix: string;
  readonly node: string;
  /** Pasarela's version, in each payload's `origin`. */
  readonly version: string;
}

/** The topic subscriptions every command topic of `node` falls under. */
export function commandFilters(node: string): string[] {
  return [`${node}/+/properties/+/set`, `${node}/+/actions/+/run`, `${node}/+/actions/+/input/+/set`];
}

export function statusTopic(node: string): string {
  return `${node}/status`;
}

/** A topic level: no separator, no wildcard. */
function level(text: string): string {
  return text.replace(/[/+#\u0000]/g, '_');
}

/** What Home Assistant accepts in object ids and unique ids. */
function idPart(text: string): string {
  return text.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** `boilerTemperature` -> `Boiler temperature`, `light.power` -> `Light power`. */
export function humanize(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s._-]+/)
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function origin(naming: Naming): Record<string, unknown> {
  return { name: 'pasarela', sw_version: naming.version };
}

const DRIVER_NAMES: Readonly<Record<string, string>> = { ble: 'Bluetooth LE', mqtt: 'MQTT', serial: 'serial' };

/** The gateway itself: an HA device whose one entity says whether Pasarela is connected. */
export function gatewayEntity(naming: Naming): Entity {
  const node = idPart(naming.node);
  return {
    component: 'binary_sensor',
    topic: `${naming.prefix}/binary_sensor/${node}/gateway/config`,
    config: {
      name: 'Gateway',
      unique_id: `${node}_gateway`,
      state_topic: statusTopic(naming.node),
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      device: { identifiers: [node], name: 'Pasarela', model: 'gateway', manufacturer: 'Pasarela', sw_version: naming.version },
      origin: origin(naming),
    },
  };
}

/** Numbers need a range in Home Assistant (its default is 1 to 100). */
function numberRange(schema: ValueSchema): Record<string, unknown> {
  const bounded = schema.minimum !== undefined && schema.maximum !== undefined;
  return {
    min: schema.minimum ?? -1_000_000_000,
    max: schema.maximum ?? 1_000_000_000,
    step: schema.type === 'integer' ? 1 : 0.01,
    // A slider is for a range a thumb can cover; otherwise a box to type in.
    mode: bounded ? 'auto' : 'box',
  };
}

function stringOptions(schema: ValueSchema): string[] | undefined {
  const options = schema.enum;
  return options && options.length > 0 && options.every((option) => typeof option === 'string') ? (options as string[]) : undefined;
}

export function planDevice(details: DeviceDetails, naming: Naming): DevicePlan {
  const node = idPart(naming.node);
  const base = `${naming.node}/${level(details.id)}`;
  const availability = `${base}/availability`;
  const entities: Entity[] = [];
  const states = new Map<string, string>();
  const commands = new Map<string, Command>();
  const actions = new Map<string, ActionPlan>();
  const polled: string[] = [];
  const skipped: string[] = [];

  const device = {
    identifiers: [`${node}_${idPart(details.id)}`],
    name: details.title ?? details.id,
    ...(details.model === undefined ? {} : { model: details.model }),
    manufacturer: details.manufacturer ?? `${DRIVER_NAMES[details.driver] ?? details.driver} device via Pasarela`,
    via_device: node,
  };
  const common = {
    availability: [{ topic: statusTopic(naming.node) }, { topic: availability }],
    availability_mode: 'all',
    device,
    origin: origin(naming),
  };
  const add = (component: Component, key: string, config: Record<string, unknown>): void => {
    const objectId = `${idPart(details.id)}_${idPart(key)}`;
    entities.push({ component, topic: `${naming.prefix}/${component}/${node}/${objectId}/config`, config: { ...config, unique_id: `${node}_${objectId}`, ...common } });
  };

  for (const [name, spec] of Object.entries(details.properties ?? {})) {
    const state = `${base}/properties/${level(name)}`;
    const fitted = propertyEntities(name, spec, state);
    if (fitted.length === 0) {
      skipped.push(`property ${name}: no entity fits a ${spec.type ?? 'untyped'} value${spec.type === 'object' ? ' without declared fields' : ''}`);
      continue;
    }
    states.set(name, state);
    if (spec.observable === false) polled.push(name);
    if (spec.writable) commands.set(`${state}/set`, { kind: 'write', property: name, schema: spec, result: `${state}/result` });
    for (const entity of fitted) add(entity.component, entity.key, entity.config);
  }

  for (const [name, spec] of Object.entries(details.actions ?? {})) {
    const actionBase = `${base}/actions/${level(name)}`;
    const input = spec.input;
    const object = input === undefined || input.type === 'object';
    const fieldSchemas: [string, ValueSchema, boolean][] = input === undefined
      ? []
      : object
        ? Object.entries(input.properties ?? {}).map(([field, schema]) => [field, schema, input.required?.includes(field) ?? false])
        : [['value', input, true]];
    const fields = new Map<string, InputField>();
    const controls: { key: string; component: Component; config: Record<string, unknown> }[] = [];
    let unusable: string | undefined;
    for (const [field, schema, required] of fieldSchemas) {
      const state = `${actionBase}/input/${level(field)}`;
      const control = inputControl(`${humanize(name)} ${humanize(field).toLowerCase()}`, schema, state, required);
      if (!control) {
        if (required) unusable = `its input ${field} is a ${schema.type ?? 'untyped'} value no entity sets`;
        continue;
      }
      fields.set(field, { schema, required, state, initial: control.initial });
      commands.set(`${state}/set`, { kind: 'choose', action: name, field, schema, state });
      controls.push({ key: `${name}_${field}`, component: control.component, config: control.config });
    }
    if (unusable !== undefined) {
      for (const field of fields.values()) commands.delete(`${field.state}/set`);
      skipped.push(`action ${name}: ${unusable}`);
      continue;
    }
    actions.set(name, { input: input === undefined ? 'none' : object ? 'object' : 'value', fields });
    const run = `${actionBase}/run`;
    const result = `${actionBase}/result`;
    commands.set(run, { kind: 'invoke', action: name, result });
    add('button', name, { name: humanize(name), command_topic: run, payload_press: 'PRESS' });
    for (const control of controls) add(control.component, control.key, control.config);
    add('sensor', `${name}_result`, {
      name: `${humanize(name)} result`,
      state_topic: result,
      value_template: '{{ value_json.outcome }}',
      json_attributes_topic: result,
      entity_category: 'diagnostic',
    });
  }

  const eventNames = Object.keys(details.events ?? {});
  const events = eventNames.length > 0 ? `${base}/events` : undefined;
  if (events !== undefined) add('event', 'events', { name: 'Event', state_topic: events, event_types: eventNames });

  return { id: details.id, entities, availability, states, commands, actions, events, polled, skipped };
}

interface Fitted {
  component: Component;
  key: string;
  config: Record<string, unknown>;
}

/** The entity (or, for an object, the entities) of one property. */
function propertyEntities(name: string, spec: PropertySpec, state: string): Fitted[] {
  const title = spec.title ?? humanize(name);
  const set = `${state}/set`;
  const unit = spec.unit === undefined ? {} : { unit_of_measurement: spec.unit };
  switch (spec.type) {
    case 'boolean':
      return spec.writable
        ? [{ component: 'switch', key: name, config: { name: title, state_topic: state, command_topic: set, payload_on: ON, payload_off: OFF } }]
        : [{ component: 'binary_sensor', key: name, config: { name: title, state_topic: state, payload_on: ON, payload_off: OFF } }];
    case 'number':
    case 'integer': {
      if (spec.writable) {
        const deviceClass = numberClass(name, spec.unit);
        return [{ component: 'number', key: name, config: { name: title, state_topic: state, command_topic: set, ...numberRange(spec), ...unit, ...(deviceClass ? { device_class: deviceClass } : {}) } }];
      }
      return [{ component: 'sensor', key: name, config: { name: title, state_topic: state, ...unit, ...sensorClass(name, spec.unit) } }];
    }
    case 'string': {
      const options = stringOptions(spec);
      if (spec.writable) {
        return options
          ? [{ component: 'select', key: name, config: { name: title, state_topic: state, command_topic: set, options } }]
          : [{ component: 'text', key: name, config: { name: title, state_topic: state, command_topic: set, max: Math.min(spec.maxLength ?? 255, 255), ...(spec.minLength === undefined ? {} : { min: spec.minLength }) } }];
      }
      return [{ component: 'sensor', key: name, config: { name: title, state_topic: state, ...(options ? { device_class: 'enum', options } : {}) } }];
    }
    case 'object': {
      // A sensor per scalar field, each reading its field out of the property's JSON.
      const fields: Fitted[] = [];
      for (const [field, schema] of Object.entries(spec.properties ?? {})) {
        const fieldName = `${title} ${field}`;
        const template = `{{ value_json[${JSON.stringify(field)}] }}`;
        if (schema.type === 'number' || schema.type === 'integer') {
          const fieldUnit = (schema as PropertySpec).unit;
          fields.push({ component: 'sensor', key: `${name}_${field}`, config: { name: fieldName, state_topic: state, value_template: template, ...(fieldUnit === undefined ? {} : { unit_of_measurement: fieldUnit }), state_class: 'measurement' } });
        } else if (schema.type === 'string') {
          fields.push({ component: 'sensor', key: `${name}_${field}`, config: { name: fieldName, state_topic: state, value_template: template } });
        } else if (schema.type === 'boolean') {
          fields.push({ component: 'binary_sensor', key: `${name}_${field}`, config: { name: fieldName, state_topic: state, value_template: `{{ 'on' if value_json[${JSON.stringify(field)}] else 'off' }}`, payload_on: 'on', payload_off: 'off' } });
        }
      }
      return fields;
    }
    default:
      return [];
  }
}

/**
 * The control that sets one input field, and its choice before anyone made one: for
 * a required field the first option, 0 (or the bound nearest it), false; an optional
 * one stays out of the input until chosen.
 */
function inputControl(title: string, schema: ValueSchema, state: string, required: boolean): ({ initial: unknown } & Omit<Fitted, 'key'>) | undefined {
  const set = `${state}/set`;
  const options = stringOptions(schema);
  const initial = (value: unknown): unknown => (required ? value : undefined);
  if (options) return { component: 'select', initial: initial(options[0]), config: { name: title, state_topic: state, command_topic: set, options } };
  if (schema.type === 'number' || schema.type === 'integer') {
    const zero = Math.min(Math.max(0, schema.minimum ?? -Infinity), schema.maximum ?? Infinity);
    return { component: 'number', initial: initial(zero), config: { name: title, state_topic: state, command_topic: set, ...numberRange(schema) } };
  }
  if (schema.type === 'boolean') return { component: 'switch', initial: initial(false), config: { name: title, state_topic: state, command_topic: set, payload_on: ON, payload_off: OFF } };
  return undefined;
}
