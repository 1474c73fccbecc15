/**
 * Homie 4 discovery: devices describe themselves in `$` attributes under
 * `<base>/<device>/...`. This builds each device's description from them (a property
 * `<node>/<prop>` becomes `<node>.<prop>`), decodes values by `$datatype`, maps
 * `$state` to availability, and builds `.../set` commands. Pure: no client.
 */
import type { DeviceDescription, PropertySpec } from '../driver.js';
import type { Publication } from './topic-device.js';

/** Homie datatypes as data: the JSON type each maps to and how a payload parses. */
const DATATYPES: Readonly<Record<string, { type: PropertySpec['type']; parse(text: string): unknown }>> = {
  integer: { type: 'integer', parse: (text) => strictNumber(text, true) },
  float: { type: 'number', parse: (text) => strictNumber(text, false) },
  boolean: {
    type: 'boolean',
    parse: (text) => {
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new Error(`not a Homie boolean: ${JSON.stringify(text)}`);
    },
  },
  string: { type: 'string', parse: (text) => text },
  enum: { type: 'string', parse: (text) => text },
  color: { type: 'string', parse: (text) => text },
  datetime: { type: 'string', parse: (text) => text },
  duration: { type: 'string', parse: (text) => text },
};

/** `$state` values that mean the device can be talked to. */
const ONLINE_STATES = new Set(['ready', 'alert']);
const KNOWN_STATES = new Set(['init', 'ready', 'disconnected', 'sleeping', 'lost', 'alert']);

function strictNumber(text: string, integer: boolean): number {
  const value = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) throw new Error(`not a Homie ${integer ? 'integer' : 'float'}: ${JSON.stringify(text)}`);
  return value;
}

interface HomieProperty {
  name?: string;
  datatype?: string;
  settable?: boolean;
  unit?: string;
  format?: string;
}

interface HomieNode {
  name?: string;
  /** From `$properties`; undefined until it arrives. */
  properties?: string[];
  readonly attributes: Map<string, HomieProperty>;
}

interface HomieDevice {
  readonly id: string;
  homie?: string;
  name?: string;
  state?: string;
  nodes?: string[];
  readonly nodeData: Map<string, HomieNode>;
  /** Last raw value per `node.prop`, kept until its datatype is known. */
  readonly raw: Map<string, string>;
  /** Whether a description was announced. */
  announced: boolean;
}

export type HomieUpdate =
  | { kind: 'describe'; key: string; description: DeviceDescription }
  | { kind: 'value'; key: string; name: string; value: unknown }
  | { kind: 'online'; key: string; online: boolean }
  | { kind: 'remove'; key: string };

export class HomieDiscovery {
  private readonly devices = new Map<string, HomieDevice>();

  constructor(readonly base = 'homie') {}

  /** The one filter that sees every Homie device. */
  get filter(): string {
    return `${this.base}/#`;
  }

  /** The registry key of a Homie device id. */
  keyOf(id: string): string {
    return `${this.base}/${id}`;
  }

  owns(topic: string): boolean {
    return topic.startsWith(`${this.base}/`);
  }

  /** Reads one message under the base topic. Throws on a payload that breaks the convention. */
  handle(topic: string, payload: Buffer): HomieUpdate[] {
    const parts = topic.slice(this.base.length + 1).split('/');
    const text = payload.toString('utf8');
    const deviceId = parts[0];
    if (!deviceId) return [];
    const key = this.keyOf(deviceId);
    if (parts.length === 2 && parts[1] === '$homie' && text === '') {
      // An empty retained $homie removes the device (Homie 4 §device lifecycle).
      if (!this.devices.delete(deviceId)) return [];
      return [{ kind: 'remove', key }];
    }
    let device = this.devices.get(deviceId);
    if (!device) {
      // Retained attributes arrive in any order; the device is announced once `$homie` is among them.
      device = { id: deviceId, nodeData: new Map(), raw: new Map(), announced: false };
      this.devices.set(deviceId, device);
    }
    const updates: HomieUpdate[] = [];
    const described = () => this.describeIfReady(device, updates);
    if (parts.length === 2) {
      switch (parts[1]) {
        case '$homie':
          if (!text.startsWith('4.')) throw new Error(`unsupported Homie version ${JSON.stringify(text)}`);
          device.homie = text;
          described();
          break;
        case '$name':
          device.name = text;
          described();
          break;
        case '$nodes':
          device.nodes = splitList(text);
          described();
          break;
        case '$state':
          if (!KNOWN_STATES.has(text)) throw new Error(`unknown Homie $state ${JSON.stringify(text)}`);
          device.state = text;
          described();
          updates.push({ kind: 'online', key, online: ONLINE_STATES.has(text) });
          break;
        default:
          break;
      }
      return updates;
    }
    const node = this.node(device, parts[1]!);
    if (parts.length === 3) {
      const attribute = parts[2]!;
      if (attribute === '$name') node.name = text;
      else if (attribute === '$properties') node.properties = splitList(text);
      else if (!attribute.startsWith('$')) {
        const name = `${parts[1]}.${attribute}`;
        device.raw.set(name, text);
        const value = this.decode(device, parts[1]!, attribute, text);
        if (value !== undefined) updates.push({ kind: 'value', key, name, value: value.value });
        return updates;
      }
      described();
      return updates;
    }
    if (parts.length === 4 && parts[3]!.startsWith('$')) {
      const property = this.property(node, parts[2]!);
      const text4 = text;
      switch (parts[3]) {
        case '$name':
          property.name = text4;
          break;
        case '$datatype':
          if (!Object.hasOwn(DATATYPES, text4)) throw new Error(`unknown Homie $datatype ${JSON.stringify(text4)}`);
          property.datatype = text4;
          break;
        case '$settable':
          property.settable = text4 === 'true';
          break;
        case '$unit':
          property.unit = text4;
          break;
        case '$format':
          property.format = text4;
          break;
        default:
          return updates;
      }
      described();
    }
    // `.../set` are commands (ours or another controller's): not state.
    return updates;
  }

  /** The command that sets `node.prop` of a Homie device. */
  write(key: string, name: string, value: unknown): Publication {
    const [node, property] = name.split('.');
    return { topic: `${key}/${node}/${property}/set`, payload: typeof value === 'string' ? value : JSON.stringify(value) };
  }

  /** Forgets every device (the driver stopped). */
  clear(): void {
    this.devices.clear();
  }

  private node(device: HomieDevice, id: string): HomieNode {
    let node = device.nodeData.get(id);
    if (!node) device.nodeData.set(id, (node = { attributes: new Map() }));
    return node;
  }

  private property(node: HomieNode, id: string): HomieProperty {
    let property = node.attributes.get(id);
    if (!property) node.attributes.set(id, (property = {}));
    return property;
  }

  private decode(device: HomieDevice, nodeId: string, propertyId: string, text: string): { value: unknown } | undefined {
    const datatype = device.nodeData.get(nodeId)?.attributes.get(propertyId)?.datatype;
    if (datatype === undefined) return undefined;
    return { value: DATATYPES[datatype]!.parse(text) };
  }

  /** Announces (or re-announces) the description once `$homie`, `$nodes` and each node's properties are known. */
  private describeIfReady(device: HomieDevice, updates: HomieUpdate[]): void {
    if (!device.homie || !device.nodes) return;
    const properties: Record<string, PropertySpec> = {};
    for (const nodeId of device.nodes) {
      const node = device.nodeData.get(nodeId);
      if (!node?.properties) return;
      for (const propertyId of node.properties) {
        const attributes = node.attributes.get(propertyId);
        if (!attributes?.datatype) return;
        properties[`${nodeId}.${propertyId}`] = specOf(attributes, node.name);
      }
    }
    const key = this.keyOf(device.id);
    const description: DeviceDescription = { ...(device.name ? { title: device.name } : {}), model: 'homie', properties };
    updates.push({ kind: 'describe', key, description });
    device.announced = true;
    // Values that came before their datatype.
    for (const [name, text] of device.raw) {
      const [nodeId, propertyId] = name.split('.') as [string, string];
      try {
        const value = this.decode(device, nodeId, propertyId, text);
        if (value !== undefined) updates.push({ kind: 'value', key, name, value: value.value });
      } catch {
        device.raw.delete(name);
      }
    }
  }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function specOf(property: HomieProperty, nodeName: string | undefined): PropertySpec {
  const datatype = DATATYPES[property.datatype!]!;
  const spec: { -readonly [K in keyof PropertySpec]: PropertySpec[K] } = { type: datatype.type };
  const title = [nodeName, property.name].filter(Boolean).join(' ');
  if (title) spec.title = title;
  if (property.unit) spec.unit = property.unit;
  if (property.settable) spec.writable = true;
  if (property.format) {
    if (property.datatype === 'enum') spec.enum = splitList(property.format);
    const range = /^(-?[\d.]+):(-?[\d.]+)$/.exec(property.format);
    if (range && (property.datatype === 'integer' || property.datatype === 'float')) {
      spec.minimum = Number(range[1]);
      spec.maximum = Number(range[2]);
    }
  }
  return spec;
}
