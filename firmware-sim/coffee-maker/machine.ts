/**
 * The coffee maker's firmware logic, without the radio: a boiler that heats, a brew
 * cycle that uses water, a keep-warm plate and a battery. Brewing takes simulated
 * time (see SimClock): heating, then brewing, then ready. Each change is announced
 * with a `change` event naming the field, which the GATT layer turns into notifications.
 */
import { EventEmitter } from 'node:events';
import { SimClock } from './clock.js';

export const BREW_STATES = ['idle', 'heating', 'brewing', 'ready', 'error'] as const;
export const CUP_SIZES = ['small', 'medium', 'large'] as const;
export const STRENGTHS = ['mild', 'normal', 'strong'] as const;
/** Why a brew was refused: `no-water` puts the machine in `error`, `busy` leaves it brewing. */
export const MACHINE_ERRORS = ['no-water', 'busy'] as const;

export type BrewState = (typeof BREW_STATES)[number];
export type CupSize = (typeof CUP_SIZES)[number];
export type Strength = (typeof STRENGTHS)[number];
export type MachineError = (typeof MACHINE_ERRORS)[number];

export interface MachineSnapshot {
  state: BrewState;
  /** The last refusal, cleared by the next state change. */
  error: MachineError | null;
  /** Tank level, %. */
  water: number;
  /** °C, two decimals (the characteristic carries hundredths). */
  boilerTemperature: number;
  cupsBrewed: number;
  keepWarm: boolean;
  /** %. */
  battery: number;
}

export type MachineField = keyof MachineSnapshot;

export interface CoffeeMachineOptions {
  /** Simulated time runs this many times faster than real time (default 1). */
  speed?: number;
  /** A clock to share with other parts of the simulation; overrides `speed`. */
  clock?: SimClock;
  water?: number;
  battery?: number;
  keepWarm?: boolean;
  /** Room temperature, °C: where the boiler cools to. */
  ambient?: number;
}

// Simulated milliseconds and degrees: a cup takes a few seconds at speed 1, enough to watch.
const HEAT_TICK_MS = 250;
const HEAT_STEP = 7;
const BREW_TEMPERATURE = 92;
const BREW_TICK_MS = 500;
const COOL_TICK_MS = 1_000;
const COOL_STEP = 2;
const KEEP_WARM_TEMPERATURE = 80;

const CUPS: Readonly<Record<CupSize, { water: number; ms: number }>> = {
  small: { water: 10, ms: 3_000 },
  medium: { water: 15, ms: 4_500 },
  large: { water: 20, ms: 6_000 },
};
// Stronger coffee runs the water through more slowly.
const STRENGTH_TIME: Readonly<Record<Strength, number>> = { mild: 0.75, normal: 1, strong: 1.5 };

function clampPercent(value: number): number {
  return Math.max(0, Math.min(100, Math.round(value)));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

export class CoffeeMachine extends EventEmitter<{ change: [field: MachineField, snapshot: MachineSnapshot] }> {
  readonly clock: SimClock;
  private readonly ambient: number;
  private readonly values: MachineSnapshot;
  private cancelTick: (() => void) | undefined;
  private cancelCooling: (() => void) | undefined;

  constructor(options: CoffeeMachineOptions = {}) {
    super();
    this.clock = options.clock ?? new SimClock(options.speed ?? 1);
    this.ambient = options.ambient ?? 22;
    this.values = {
      state: 'idle',
      error: null,
      water: clampPercent(options.water ?? 100),
      boilerTemperature: this.ambient,
      cupsBrewed: 0,
      keepWarm: options.keepWarm ?? false,
      battery: clampPercent(options.battery ?? 100),
    };
  }

  snapshot(): MachineSnapshot {
    return { ...this.values };
  }

  /** Water one cup of `size` needs, %. */
  static waterFor(size: CupSize): number {
    return CUPS[size].water;
  }

  /**
   * Starts a brew. Returns the refusal, if any: `no-water` (the machine goes to
   * `error`) or `busy` (a brew is running). The state is announced either way, as
   * the firmware answers every command.
   */
  brew(size: CupSize, strength: Strength = 'normal'): MachineError | undefined {
    const { state } = this.values;
    if (state === 'heating' || state === 'brewing') {
      this.values.error = 'busy';
      this.changed('state');
      return 'busy';
    }
    const cup = CUPS[size];
    if (this.values.water < cup.water) {
      this.stopCooling();
      this.setState('error', 'no-water');
      return 'no-water';
    }
    this.stopCooling();
    this.setState('heating');
    this.heat(() => this.pour(cup.water, cup.ms * STRENGTH_TIME[strength]));
    return undefined;
  }

  /** Fills the tank; clears a `no-water` error. */
  refill(): void {
    this.set('water', 100);
    if (this.values.state === 'error' && this.values.error === 'no-water') this.setState('idle');
  }

  setKeepWarm(on: boolean): void {
    this.set('keepWarm', on);
    if (this.values.state === 'ready' || this.values.state === 'idle') this.startCooling();
  }

  /** For tests and demos: the battery level, %. */
  setBattery(percent: number): void {
    this.set('battery', clampPercent(percent));
  }

  /** Stops every timer: the machine freezes where it is. */
  stop(): void {
    this.cancelTick?.();
    this.stopCooling();
    this.clock.stop();
  }

  // Always at least one tick of heating, so every brew shows heating -> brewing -> ready.
  private heat(then: () => void): void {
    this.cancelTick = this.clock.after(HEAT_TICK_MS, () => {
      this.set('boilerTemperature', round2(Math.min(BREW_TEMPERATURE, this.values.boilerTemperature + HEAT_STEP)));
      if (this.values.boilerTemperature >= BREW_TEMPERATURE) then();
      else this.heat(then);
    });
  }

  private pour(water: number, ms: number): void {
    this.setState('brewing');
    const ticks = Math.max(1, Math.ceil(ms / BREW_TICK_MS));
    const start = this.values.water;
    const step = (tick: number): void => {
      this.cancelTick = this.clock.after(ms / ticks, () => {
        // Whole percents that add up to exactly `water` over the brew.
        this.set('water', clampPercent(start - Math.round((water * tick) / ticks)));
        if (tick < ticks) {
          step(tick + 1);
          return;
        }
        this.cancelTick = undefined;
        this.set('cupsBrewed', this.values.cupsBrewed + 1);
        this.set('battery', clampPercent(this.values.battery - 1));
        this.setState('ready');
        this.startCooling();
      });
    };
    step(1);
  }

  private startCooling(): void {
    this.stopCooling();
    const target = this.values.keepWarm ? KEEP_WARM_TEMPERATURE : this.ambient;
    if (this.values.boilerTemperature <= target) return;
    this.cancelCooling = this.clock.after(COOL_TICK_MS, () => {
      this.cancelCooling = undefined;
      this.set('boilerTemperature', round2(Math.max(target, this.values.boilerTemperature - COOL_STEP)));
      this.startCooling();
    });
  }

  private stopCooling(): void {
    this.cancelCooling?.();
    this.cancelCooling = undefined;
  }

  private setState(state: BrewState, error: MachineError | null = null): void {
    this.values.state = state;
    this.values.error = error;
    this.changed('state');
  }

  private set<K extends MachineField>(field: K, value: MachineSnapshot[K]): void {
    if (this.values[field] === value) return;
    this.values[field] = value;
    this.changed(field);
  }

  private changed(field: MachineField): void {
    this.emit('change', field, this.snapshot());
  }
}
