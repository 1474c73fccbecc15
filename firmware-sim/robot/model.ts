/**
 * The robot's physics and state: a two-wheeled robot in a walled square arena.
 * Pure: it has no timers; whoever runs it calls `advance(ms)` with simulated time.
 * Changes come out through one listener, as property values and events, in the
 * order they happen.
 */

export interface Pose {
  /** Metres from the arena's centre. */
  x: number;
  y: number;
  /** Degrees, 0 along +x, counter-clockwise, in [0, 360). */
  heading: number;
}

export type RobotState = 'idle' | 'moving' | 'rotating';

export interface RobotValues {
  battery: number;
  pose: Pose;
  speed: number;
  motors: boolean;
  state: RobotState;
}

export type RobotPropertyName = keyof RobotValues;

export type RobotChange =
  | { kind: 'property'; name: RobotPropertyName; value: unknown }
  | { kind: 'event'; name: 'progress'; data: { action: 'move' | 'rotate'; done: number } }
  | { kind: 'event'; name: 'done'; data: { action: 'move' | 'rotate'; completed: boolean; reason?: string } }
  | { kind: 'event'; name: 'bumper'; data: { x: number; y: number } }
  | { kind: 'event'; name: 'lowBattery'; data: { battery: number } };

/** Why a command was refused; each protocol maps it to its own error form. */
export type RobotRefusal = 'bad-value' | 'busy' | 'motors-off' | 'battery-low' | 'read-only' | 'unknown';

export class RobotRefused extends Error {
  constructor(readonly reason: RobotRefusal, message: string) {
    super(message);
    this.name = 'RobotRefused';
  }
}

export interface RobotModelOptions {
  /** Starting charge, % (default 80). */
  battery?: number;
  /** Starting speed, m/s (default 0.25). */
  speed?: number;
  /** Half the arena's side, m (default 2): walls at ±2 m. */
  arenaHalfSize?: number;
  /** The `lowBattery` event fires when the charge falls below this, % (default 15). */
  lowBatteryAt?: number;
  /** Moves are refused below this, % (default 5). */
  refuseBelow?: number;
  /** % used per metre travelled (default 1) and per full turn (default 0.5). */
  drainPerMetre?: number;
  drainPerTurn?: number;
  /** % gained per simulated minute while idle: the robot sits on its charger (default 3). */
  idleChargePerMinute?: number;
}

export const SPEED_LIMITS = { minimum: 0.05, maximum: 1 } as const;
export const MOVE_LIMIT = 10;
export const TURN_RATE = 90; // degrees per second
const RADIUS = 0.1; // the robot's body: it bumps a wall this far from its centre

interface Task {
  action: 'move' | 'rotate';
  /** Metres or degrees, signed. */
  total: number;
  done: number;
  /** Next progress quarter to announce. */
  nextQuarter: number;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor || 0; // no -0 in reports
}

/** Whole percent; the epsilon keeps 55.99999999 (sums of small steps) from reading as 55. */
function percent(charge: number): number {
  return Math.floor(charge + 1e-9);
}

function normalizeHeading(degrees: number): number {
  const h = degrees % 360;
  return h < 0 ? h + 360 : h;
}

export class RobotModel {
  private charge: number;
  private position: Pose = { x: 0, y: 0, heading: 0 };
  private currentSpeed: number;
  private motorsOn = true;
  private task: Task | undefined;
  private lowArmed = true;
  private readonly half: number;
  private readonly lowAt: number;
  private readonly refuseBelow: number;
  private readonly drainPerMetre: number;
  private readonly drainPerTurn: number;
  private readonly chargePerMs: number;

  constructor(private readonly listener: (change: RobotChange) => void, options: RobotModelOptions = {}) {
    this.charge = options.battery ?? 80;
    this.currentSpeed = options.speed ?? 0.25;
    this.half = options.arenaHalfSize ?? 2;
    this.lowAt = options.lowBatteryAt ?? 15;
    this.refuseBelow = options.refuseBelow ?? 5;
    this.drainPerMetre = options.drainPerMetre ?? 1;
    this.drainPerTurn = options.drainPerTurn ?? 0.5;
    this.chargePerMs = (options.idleChargePerMinute ?? 3) / 60_000;
    this.lowArmed = this.charge >= this.lowAt;
  }

  get state(): RobotState {
    if (!this.task) return 'idle';
    return this.task.action === 'move' ? 'moving' : 'rotating';
  }

  get values(): RobotValues {
    return {
      battery: percent(this.charge),
      pose: this.pose,
      speed: this.currentSpeed,
      motors: this.motorsOn,
      state: this.state,
    };
  }

  get pose(): Pose {
    return { x: round(this.position.x, 3), y: round(this.position.y, 3), heading: round(this.position.heading, 1) };
  }

  /** Starts a straight move (negative: backwards); answers how long it should take. */
  move(distance: unknown): { etaMs: number } {
    if (typeof distance !== 'number' || !Number.isFinite(distance) || Math.abs(distance) > MOVE_LIMIT) {
      throw new RobotRefused('bad-value', `distance must be a number from -${MOVE_LIMIT} to ${MOVE_LIMIT} m`);
    }
    this.assertCanRun();
    this.begin('move', distance);
    return { etaMs: Math.round((Math.abs(distance) / this.currentSpeed) * 1000) };
  }

  /** Starts turning on the spot (positive: counter-clockwise). */
  rotate(angle: unknown): { etaMs: number } {
    if (typeof angle !== 'number' || !Number.isFinite(angle) || Math.abs(angle) > 360) {
      throw new RobotRefused('bad-value', 'angle must be a number from -360 to 360 degrees');
    }
    this.assertCanRun();
    this.begin('rotate', angle);
    return { etaMs: Math.round((Math.abs(angle) / TURN_RATE) * 1000) };
  }

  /** Interrupts the current move or rotation, if any. */
  stop(): { interrupted: boolean } {
    if (!this.task) return { interrupted: false };
    this.finish(false, 'stopped');
    return { interrupted: true };
  }

  setSpeed(value: unknown): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < SPEED_LIMITS.minimum || value > SPEED_LIMITS.maximum) {
      throw new RobotRefused('bad-value', `speed must be from ${SPEED_LIMITS.minimum} to ${SPEED_LIMITS.maximum} m/s`);
    }
    const speed = round(value, 2);
    if (speed !== this.currentSpeed) {
      this.currentSpeed = speed;
      this.emitProperty('speed', speed);
    }
    return speed;
  }

  setMotors(on: unknown): boolean {
    if (typeof on !== 'boolean') throw new RobotRefused('bad-value', 'motors must be true or false');
    if (on === this.motorsOn) return on;
    this.motorsOn = on;
    this.emitProperty('motors', on);
    if (!on && this.task) this.finish(false, 'motors off');
    return on;
  }

  /** Runs `ms` of simulated time. */
  advance(ms: number): void {
    const task = this.task;
    if (!task) {
      this.changeCharge(this.chargePerMs * ms);
      return;
    }
    const sign = Math.sign(task.total);
    const remaining = Math.abs(task.total) - task.done;
    if (task.action === 'move') {
      let step = Math.min(remaining, (this.currentSpeed * ms) / 1000);
      const room = this.roomAhead(sign);
      const bumped = step >= room;
      if (bumped) step = Math.max(0, room);
      const radians = (this.position.heading * Math.PI) / 180;
      this.position.x += sign * step * Math.cos(radians);
      this.position.y += sign * step * Math.sin(radians);
      task.done += step;
      this.emitProperty('pose', this.pose);
      this.changeCharge(-step * this.drainPerMetre);
      if (bumped) {
        this.listener({ kind: 'event', name: 'bumper', data: { x: round(this.position.x, 3), y: round(this.position.y, 3) } });
        this.finish(false, 'bumper');
        return;
      }
    } else {
      const step = Math.min(remaining, (TURN_RATE * ms) / 1000);
      this.position.heading = normalizeHeading(this.position.heading + sign * step);
      task.done += step;
      this.emitProperty('pose', this.pose);
      this.changeCharge((-step / 360) * this.drainPerTurn);
    }
    if (!this.task) return; // the battery ran out and ended it
    const fraction = Math.abs(task.total) === 0 ? 1 : task.done / Math.abs(task.total);
    while (task.nextQuarter < 4 && fraction >= task.nextQuarter / 4) {
      this.listener({ kind: 'event', name: 'progress', data: { action: task.action, done: task.nextQuarter / 4 } });
      task.nextQuarter++;
    }
    if (task.done >= Math.abs(task.total) - 1e-9) this.finish(true);
  }

  private assertCanRun(): void {
    if (this.task) throw new RobotRefused('busy', `busy ${this.state}: stop first`);
    if (!this.motorsOn) throw new RobotRefused('motors-off', 'motors are off');
    if (this.charge < this.refuseBelow) throw new RobotRefused('battery-low', `battery below ${this.refuseBelow}%`);
  }

  private begin(action: 'move' | 'rotate', total: number): void {
    this.task = { action, total, done: 0, nextQuarter: 1 };
    this.emitProperty('state', this.state);
  }

  private finish(completed: boolean, reason?: string): void {
    const task = this.task;
    if (!task) return;
    this.task = undefined;
    this.emitProperty('state', 'idle');
    this.listener({ kind: 'event', name: 'done', data: { action: task.action, completed, ...(reason ? { reason } : {}) } });
  }

  /** Metres the robot can travel along its heading (sign: forwards or back) before a wall. */
  private roomAhead(sign: number): number {
    const radians = (this.position.heading * Math.PI) / 180;
    const dx = sign * Math.cos(radians);
    const dy = sign * Math.sin(radians);
    const limit = this.half - RADIUS;
    let room = Infinity;
    if (dx > 1e-12) room = Math.min(room, (limit - this.position.x) / dx);
    if (dx < -1e-12) room = Math.min(room, (-limit - this.position.x) / dx);
    if (dy > 1e-12) room = Math.min(room, (limit - this.position.y) / dy);
    if (dy < -1e-12) room = Math.min(room, (-limit - this.position.y) / dy);
    return room;
  }

  private changeCharge(delta: number): void {
    const before = percent(this.charge);
    this.charge = Math.min(100, Math.max(0, this.charge + delta));
    const after = percent(this.charge);
    if (after === before) return;
    this.emitProperty('battery', after);
    if (this.lowArmed && this.charge < this.lowAt) {
      this.lowArmed = false;
      this.listener({ kind: 'event', name: 'lowBattery', data: { battery: after } });
    } else if (!this.lowArmed && this.charge >= this.lowAt + 5) {
      this.lowArmed = true; // hysteresis: one event per discharge, not one per flicker
    }
    if (this.charge <= 0 && this.task) this.finish(false, 'battery empty');
  }

  private emitProperty(name: RobotPropertyName, value: unknown): void {
    this.listener({ kind: 'property', name, value });
  }
}
