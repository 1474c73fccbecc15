/**
 * A room sensor in the Zigbee2MQTT style: JSON state on `<topic>`, availability on
 * `<topic>/availability`, commands on `<topic>/set` (`{"interval": ms}`,
 * `{"calibrate": {"offset": °C}}`). Temperature wanders around a daily cycle with
 * measurement noise; humidity moves against it.
 */
import { MqttSimulator, type Message, type SimulatorOptions } from './mqtt-simulator.js';
import { drift, round } from './random.js';

export interface RoomSensorOptions extends SimulatorOptions {
  /** Mean temperature in °C (default 21). */
  meanTemperature?: number;
  /** Mean relative humidity in % (default 45). */
  meanHumidity?: number;
}

export class RoomSensor extends MqttSimulator {
  private readonly meanTemperature: number;
  private readonly meanHumidity: number;
  /** The air's true temperature; readings add noise and the calibration offset. */
  private air: number;
  private humidityDeviation = 0;
  private hours = 0;
  offset = 0;

  constructor(options: RoomSensorOptions) {
    super(options);
    this.meanTemperature = options.meanTemperature ?? 21;
    this.meanHumidity = options.meanHumidity ?? 45;
    this.air = this.meanTemperature + this.random.gaussian(0.5);
  }

  /** What the sensor would report now. */
  reading(): { temperature: number; humidity: number; offset: number; interval: number } {
    const temperature = round(this.air + this.offset + this.random.gaussian(0.05), 2);
    const humidity = round(Math.min(100, Math.max(0, this.meanHumidity - 2 * (this.air - this.meanTemperature) + this.humidityDeviation + this.random.gaussian(0.3))), 1);
    return { temperature, humidity, offset: this.offset, interval: this.intervalMs };
  }

  protected will(): Message {
    return { topic: `${this.topic}/availability`, payload: JSON.stringify({ state: 'offline' }), retain: true };
  }

  protected birth(): Message[] {
    return [
      { topic: `${this.topic}/availability`, payload: JSON.stringify({ state: 'online' }), retain: true },
      { topic: this.topic, payload: JSON.stringify(this.reading()) },
    ];
  }

  protected goodbye(): Message[] {
    return [this.will()];
  }

  protected commandTopics(): string[] {
    return [`${this.topic}/set`];
  }

  protected tick(): Message[] {
    const hours = this.tickHours;
    this.hours += hours;
    // A daily cycle (warmest mid-afternoon) around the mean, plus slow random drift.
    const daily = this.meanTemperature + 1.5 * Math.sin(((this.hours % 24) - 9) * (Math.PI / 12));
    this.air = drift(this.air, daily, hours, 0.5, 0.4, this.random);
    this.humidityDeviation = drift(this.humidityDeviation, 0, hours, 0.3, 1.5, this.random);
    return [{ topic: this.topic, payload: JSON.stringify(this.reading()) }];
  }

  protected command(_topic: string, payload: string): Message[] {
    const command = JSON.parse(payload) as { interval?: unknown; calibrate?: { offset?: unknown } };
    if (typeof command.interval === 'number' && Number.isInteger(command.interval) && command.interval >= 10) {
      this.changeInterval(command.interval);
    }
    const offset = command.calibrate?.offset;
    if (typeof offset === 'number' && Math.abs(offset) <= 5) this.offset = offset;
    return [{ topic: this.topic, payload: JSON.stringify(this.reading()) }];
  }
}
