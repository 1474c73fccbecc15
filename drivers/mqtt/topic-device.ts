/**
 * A configured device on a topic convention (plain JSON, Tasmota): its profile
 * compiled into decoders for the state documents and builders for commands.
 * Pure: no client, no timers; the driver feeds it payloads and publishes what it builds.
 */
import { createConverter, jsonPath, parsePath, type Converter } from '../converters.js';
import type { DeviceDescription, PropertySpec } from '../driver.js';
import { describeProfile } from '../profile.js';
import { checkValue } from '../value-check.js';
import { fillTopic, type TopicConvention } from './convention.js';
import type { MqttProfile } from './profile-schema.js';

export interface Publication {
  topic: string;
  payload: string;
}

/** What one state document said: property values and raised events. */
export interface StateUpdate {
  values: [name: string, value: unknown][];
  events: [name: string, data: unknown][];
  /** Properties whose value could not be decoded, with why. */
  problems: string[];
}

interface CompiledProperty {
  readonly name: string;
  readonly spec: PropertySpec;
  readonly locate: Converter<unknown, unknown>;
  readonly converter: Converter | undefined;
  readonly command: string;
}

interface CompiledEvent {
  readonly name: string;
  readonly locate: Converter<unknown, unknown>;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export class TopicDevice {
  readonly description: DeviceDescription;
  readonly stateTopics: readonly string[];
  readonly availabilityTopic: string | undefined;
  /** State topics whose reports confirm actions (see TopicConvention.replies). */
  readonly replyTopics: ReadonlySet<string>;
  private readonly properties: CompiledProperty[];
  private readonly byName: Map<string, CompiledProperty>;
  private readonly events: CompiledEvent[];

  constructor(
    /** The device's base topic; also its key in the registry. */
    readonly topic: string,
    readonly profile: MqttProfile,
    readonly convention: TopicConvention,
  ) {
    this.description = describeProfile(profile);
    this.stateTopics = convention.state.map((template) => fillTopic(template, topic));
    this.replyTopics = new Set((convention.replies ?? convention.state).map((template) => fillTopic(template, topic)));
    this.availabilityTopic = convention.availability ? fillTopic(convention.availability.topic, topic) : undefined;
    this.properties = Object.entries(profile.properties).map(([name, spec]) => {
      const path = spec.path ?? name;
      return {
        name,
        spec: this.description.properties![name]!,
        locate: jsonPath(path),
        converter: spec.converter === undefined ? undefined : createConverter(spec.converter),
        command: spec.command ?? parsePath(path)[0] ?? name,
      };
    });
    this.byName = new Map(this.properties.map((property) => [property.name, property]));
    this.events = Object.entries(profile.events).map(([name, spec]) => ({ name, locate: jsonPath(spec.path) }));
  }

  /** Every topic to subscribe for this device. */
  get topics(): string[] {
    return this.availabilityTopic ? [...this.stateTopics, this.availabilityTopic] : [...this.stateTopics];
  }

  /** Reads a state document (already parsed JSON). */
  parseState(document: unknown): StateUpdate {
    const update: StateUpdate = { values: [], events: [], problems: [] };
    for (const property of this.properties) {
      const raw = property.locate.decode(document);
      if (raw === undefined) continue;
      try {
        const value = property.converter ? property.converter.decode(raw) : raw;
        // A value that contradicts the description is the device's fault: drop it.
        const problem = checkValue(property.spec, value, property.name);
        if (problem) update.problems.push(problem);
        else update.values.push([property.name, value]);
      } catch (error) {
        update.problems.push(`${property.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    for (const event of this.events) {
      const data = event.locate.decode(document);
      if (data !== undefined) update.events.push([event.name, data]);
    }
    return update;
  }

  /** An availability payload: true/false, or undefined when it says neither. */
  parseAvailability(payload: string): boolean | undefined {
    const availability = this.convention.availability;
    if (!availability) return undefined;
    let state = payload.trim();
    if (availability.field && state.startsWith('{')) {
      try {
        state = String((JSON.parse(state) as Record<string, unknown>)[availability.field] ?? '');
      } catch {
        return undefined;
      }
    }
    if (state.toLowerCase() === availability.online.toLowerCase()) return true;
    if (state.toLowerCase() === availability.offline.toLowerCase()) return false;
    return undefined;
  }

  /** The command that writes a property (value already validated). */
  write(name: string, value: unknown): Publication {
    const property = this.byName.get(name);
    if (!property) throw new Error(`no property "${name}"`);
    const raw = property.converter?.encode ? property.converter.encode(value) : value;
    if (this.convention.command.payload === 'json') {
      return { topic: fillTopic(this.convention.command.topic, this.topic, property.command), payload: JSON.stringify(property.locate.encode!(raw)) };
    }
    return { topic: fillTopic(this.convention.command.topic, this.topic, property.command), payload: textOf(raw) };
  }

  /** What confirms an action: its `confirm` property, with the value at `expect` in the input if given. */
  actionConfirmation(name: string, input: unknown): { property: string; value?: unknown } | undefined {
    const spec = this.profile.actions[name];
    if (spec?.confirm === undefined) return undefined;
    if (spec.expect === undefined) return { property: spec.confirm };
    return { property: spec.confirm, value: jsonPath(spec.expect).decode(input) };
  }

  /** The command that runs an action (input already validated). */
  action(name: string, input: unknown): Publication {
    const spec = this.profile.actions[name];
    if (!spec) throw new Error(`no action "${name}"`);
    const command = spec.command ?? name;
    const argument = input ?? spec.payload ?? true;
    const topic = fillTopic(this.convention.command.topic, this.topic, command);
    if (this.convention.command.payload === 'json') return { topic, payload: JSON.stringify({ [command]: argument }) };
    return { topic, payload: textOf(argument) };
  }
}
