/**
 * A Tasmota smart plug with energy monitoring: LWT on `tele/<t>/LWT`, telemetry on
 * `tele/<t>/STATE` and `tele/<t>/SENSOR`, `cmnd/<t>/POWER` ON|OFF|TOGGLE answered on
 * `stat/<t>/RESULT` and `stat/<t>/POWER`. The load wanders around its nominal power.
 */
import { MqttSimulator, type Message, type SimulatorOptions } from './mqtt-simulator.js';
import { drift, round } from './random.js';

export interface SmartPlugOptions extends SimulatorOptions {
  /** The appliance's nominal power in W (default 60). */
  loadWatts?: number;
  /** Relay state at start (default on). */
  on?: boolean;
}

export class SmartPlug extends MqttSimulator {
  private readonly loadWatts: number;
  relayOn: boolean;
  private load: number;
  private voltage = 230;
  /** kWh since start. */
  private total = 0;
  private uptimeHours = 0;

  constructor(options: SmartPlugOptions) {
    super(options);
    this.loadWatts = options.loadWatts ?? 60;
    this.relayOn = options.on ?? true;
    this.load = this.loadWatts;
  }

  get watts(): number {
    return this.relayOn ? round(Math.max(0, this.load), 1) : 0;
  }

  /** The physical button: toggles the relay and reports it like Tasmota does. */
  pressButton(): void {
    this.relayOn = !this.relayOn;
    this.publish([
      { topic: `stat/${this.topic}/RESULT`, payload: JSON.stringify({ Button1: { Action: 'SINGLE' } }) },
      ...this.powerReply(),
    ]);
  }

  protected will(): Message {
    return { topic: `tele/${this.topic}/LWT`, payload: 'Offline', retain: true };
  }

  protected birth(): Message[] {
    return [{ topic: `tele/${this.topic}/LWT`, payload: 'Online', retain: true }, this.state(), this.sensor()];
  }

  protected goodbye(): Message[] {
    return [this.will()];
  }

  protected commandTopics(): string[] {
    return [`cmnd/${this.topic}/+`];
  }

  protected tick(): Message[] {
    const hours = this.tickHours;
    this.uptimeHours += hours;
    this.load = drift(this.load, this.loadWatts, hours, 2, this.loadWatts * 0.05, this.random);
    this.voltage = drift(this.voltage, 230, hours, 1, 1, this.random);
    this.total += (this.watts / 1000) * hours;
    return [this.state(), this.sensor()];
  }

  protected command(topic: string, payload: string): Message[] {
    const command = topic.slice(topic.lastIndexOf('/') + 1).toUpperCase();
    if (command !== 'POWER' && command !== 'POWER1') throw new Error(`unsupported command ${command}`);
    const argument = payload.trim().toUpperCase();
    if (argument === 'ON' || argument === '1' || argument === 'TRUE') this.relayOn = true;
    else if (argument === 'OFF' || argument === '0' || argument === 'FALSE') this.relayOn = false;
    else if (argument === 'TOGGLE' || argument === '2') this.relayOn = !this.relayOn;
    else if (argument !== '') throw new Error(`bad POWER argument ${argument}`);
    return this.powerReply();
  }

  private powerReply(): Message[] {
    const power = this.relayOn ? 'ON' : 'OFF';
    return [
      { topic: `stat/${this.topic}/RESULT`, payload: JSON.stringify({ POWER: power }) },
      { topic: `stat/${this.topic}/POWER`, payload: power },
    ];
  }

  private time(): string {
    return new Date().toISOString().slice(0, 19);
  }

  private state(): Message {
    return {
      topic: `tele/${this.topic}/STATE`,
      payload: JSON.stringify({ Time: this.time(), Uptime: `${Math.floor(this.uptimeHours)}h`, POWER: this.relayOn ? 'ON' : 'OFF' }),
    };
  }

  private sensor(): Message {
    const watts = this.watts;
    const voltage = round(this.voltage, 0);
    return {
      topic: `tele/${this.topic}/SENSOR`,
      payload: JSON.stringify({
        Time: this.time(),
        ENERGY: { Total: round(this.total, 3), Power: watts, Voltage: voltage, Current: round(watts / voltage, 3) },
      }),
    };
  }
}
