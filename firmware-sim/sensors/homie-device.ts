/**
 * A Homie 4 dimmable lamp: describes itself with `$` attributes (retained), reports
 * `$state` (`lost` as its will), publishes its power draw, and obeys
 * `light/on/set` and `light/brightness/set`.
 */
import { MqttSimulator, type Message, type SimulatorOptions } from './mqtt-simulator.js';
import { round } from './random.js';

export interface HomieLampOptions extends SimulatorOptions {
  /** Homie base topic (default `homie`). */
  base?: string;
  /** `$name` (default "Desk lamp"). */
  name?: string;
  /** Power at full brightness in W (default 9). */
  maxWatts?: number;
}

export class HomieLamp extends MqttSimulator {
  private readonly base: string;
  private readonly name: string;
  private readonly maxWatts: number;
  lit = true;
  brightness = 70;

  constructor(options: HomieLampOptions) {
    super(options);
    this.base = options.base ?? 'homie';
    this.name = options.name ?? 'Desk lamp';
    this.maxWatts = options.maxWatts ?? 9;
  }

  /** `<base>/<id>`: where everything of this device lives. */
  get root(): string {
    return `${this.base}/${this.topic}`;
  }

  get watts(): number {
    return this.lit ? round((this.maxWatts * this.brightness) / 100 + this.random.gaussian(0.05), 2) : 0;
  }

  protected will(): Message {
    return { topic: `${this.root}/$state`, payload: 'lost', retain: true };
  }

  protected birth(): Message[] {
    const r = this.root;
    const retained = (topic: string, payload: string): Message => ({ topic: `${r}/${topic}`, payload, retain: true });
    return [
      retained('$state', 'init'),
      retained('$homie', '4.0.0'),
      retained('$name', this.name),
      retained('$nodes', 'light'),
      retained('$extensions', ''),
      retained('light/$name', 'Light'),
      retained('light/$type', 'dimmable'),
      retained('light/$properties', 'on,brightness,power'),
      retained('light/on/$name', 'On'),
      retained('light/on/$datatype', 'boolean'),
      retained('light/on/$settable', 'true'),
      retained('light/brightness/$name', 'Brightness'),
      retained('light/brightness/$datatype', 'integer'),
      retained('light/brightness/$format', '0:100'),
      retained('light/brightness/$unit', '%'),
      retained('light/brightness/$settable', 'true'),
      retained('light/power/$name', 'Power'),
      retained('light/power/$datatype', 'float'),
      retained('light/power/$unit', 'W'),
      ...this.values(),
      retained('$state', 'ready'),
    ];
  }

  protected goodbye(): Message[] {
    return [{ topic: `${this.root}/$state`, payload: 'disconnected', retain: true }];
  }

  protected commandTopics(): string[] {
    return [`${this.root}/light/+/set`];
  }

  protected tick(): Message[] {
    return [{ topic: `${this.root}/light/power`, payload: String(this.watts), retain: true }];
  }

  protected command(topic: string, payload: string): Message[] {
    const property = topic.split('/').at(-2);
    if (property === 'on') {
      if (payload !== 'true' && payload !== 'false') throw new Error(`bad boolean ${payload}`);
      this.lit = payload === 'true';
    } else if (property === 'brightness') {
      const value = Number(payload);
      if (!Number.isInteger(value) || value < 0 || value > 100) throw new Error(`bad brightness ${payload}`);
      this.brightness = value;
    } else {
      throw new Error(`not settable: ${property}`);
    }
    return this.values();
  }

  private values(): Message[] {
    const r = this.root;
    return [
      { topic: `${r}/light/on`, payload: String(this.lit), retain: true },
      { topic: `${r}/light/brightness`, payload: String(this.brightness), retain: true },
      { topic: `${r}/light/power`, payload: String(this.watts), retain: true },
    ];
  }
}
