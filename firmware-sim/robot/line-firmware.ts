/**
 * The robot's firmware speaking a text command/response protocol, in the manner of
 * GRBL: one command per line, answered by reply lines then `ok` or `error:<code>`,
 * plus unsolicited lines: status reports `<Run|B:86|P:0.120,0.000,0.0|S:0.25|M:1>`
 * and events in brackets, `[BUMP|X:1.900|Y:0.000]`.
 *
 * | command | reply |
 * |---|---|
 * | `ver?` | `ver:pasarela-robot 1` |
 * | `?` | a status report |
 * | `bat?` `pose?` `state?` | `bat:87` `pose:0.000,0.000,0.0` `state:Idle` (Idle, Run, Turn) |
 * | `speed?` `speed=0.3` | `speed:0.30` |
 * | `motors?` `motors=0` | `motors:0` |
 * | `move 0.5` `rot -90` | `eta:2000` |
 * | `stop` | `stopped:1` (0 when nothing was running) |
 *
 * Error codes: 1 unknown command, 2 bad value, 3 motors off, 4 busy, 5 battery low.
 */
import { RobotRefused, type RobotChange, type RobotRefusal } from './model.js';
import type { FirmwareContext, FirmwareProtocol } from './protocol.js';

export const LINE_ERRORS: Readonly<Record<RobotRefusal, number>> = {
  unknown: 1,
  'bad-value': 2,
  'read-only': 2,
  'motors-off': 3,
  busy: 4,
  'battery-low': 5,
};

const STATE_WORD = { idle: 'Idle', moving: 'Run', rotating: 'Turn' } as const;
const MAX_LINE = 256;

function number(text: string | undefined): number {
  // Number('') is 0: an empty argument is a bad value, not zero.
  return text === undefined || text.trim() === '' ? NaN : Number(text);
}

function flag(text: string | undefined): boolean | undefined {
  return text === '1' ? true : text === '0' ? false : undefined;
}

export class LineFirmware implements FirmwareProtocol {
  private pending = '';
  private statusDue = false;
  private closed = false;

  constructor(private readonly context: FirmwareContext) {}

  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    this.pending += Buffer.from(bytes).toString('latin1');
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline).replace(/\r$/, '').trim();
      this.pending = this.pending.slice(newline + 1);
      if (line !== '') this.command(line);
    }
    // A line that never ends is noise; keep the buffer bounded.
    if (this.pending.length > MAX_LINE) this.pending = '';
  }

  report(change: RobotChange): void {
    if (change.kind === 'property') {
      // Several values change in one tick: one status report carries them all.
      if (!this.statusDue) {
        this.statusDue = true;
        queueMicrotask(() => this.flushStatus());
      }
      return;
    }
    // The values an event follows from go out before it.
    this.flushStatus();
    switch (change.name) {
      case 'progress':
        this.send(`[PRG:${change.data.action}|${change.data.done}]`);
        break;
      case 'done':
        this.send(`[DONE:${change.data.action}|${change.data.completed ? 1 : 0}|${change.data.reason ?? ''}]`);
        break;
      case 'bumper':
        this.send(`[BUMP|X:${change.data.x.toFixed(3)}|Y:${change.data.y.toFixed(3)}]`);
        break;
      case 'lowBattery':
        this.send(`[LOWBAT|B:${change.data.battery}]`);
        break;
    }
  }

  announce(): void {
    this.send('[MSG:pasarela-robot 1 ready]');
  }

  close(): void {
    this.closed = true;
  }

  private command(line: string): void {
    try {
      const reply = this.run(line);
      this.send(reply === undefined ? 'ok' : `${reply}\nok`);
    } catch (error) {
      if (!(error instanceof RobotRefused)) throw error;
      this.send(`error:${LINE_ERRORS[error.reason]}`);
    }
  }

  private run(line: string): string | undefined {
    const { model } = this.context;
    const [word, argument] = splitCommand(line);
    const values = model.values;
    switch (word) {
      case 'ver?':
        return 'ver:pasarela-robot 1';
      case '?':
        return this.status();
      case 'bat?':
        return `bat:${values.battery}`;
      case 'pose?':
        return `pose:${pose(values.pose)}`;
      case 'state?':
        return `state:${STATE_WORD[values.state]}`;
      case 'speed?':
        return `speed:${values.speed.toFixed(2)}`;
      case 'speed':
        return `speed:${model.setSpeed(number(argument)).toFixed(2)}`;
      case 'motors?':
        return `motors:${values.motors ? 1 : 0}`;
      case 'motors': {
        const on = flag(argument);
        if (on === undefined) throw new RobotRefused('bad-value', 'motors=1 or motors=0');
        return `motors:${model.setMotors(on) ? 1 : 0}`;
      }
      case 'move':
        return `eta:${model.move(number(argument)).etaMs}`;
      case 'rot':
        return `eta:${model.rotate(number(argument)).etaMs}`;
      case 'stop':
        return `stopped:${model.stop().interrupted ? 1 : 0}`;
      default:
        throw new RobotRefused('unknown', `unknown command ${line}`);
    }
  }

  private flushStatus(): void {
    if (!this.statusDue) return;
    this.statusDue = false;
    this.send(this.status());
  }

  private status(): string {
    const v = this.context.model.values;
    return `<${STATE_WORD[v.state]}|B:${v.battery}|P:${pose(v.pose)}|S:${v.speed.toFixed(2)}|M:${v.motors ? 1 : 0}>`;
  }

  private send(text: string): void {
    if (this.closed) return;
    this.context.write(Buffer.from(`${text}\n`, 'latin1'));
  }
}

/** `move 0.5` -> ['move', '0.5']; `speed=0.3` -> ['speed', '0.3']; `bat?` -> ['bat?']. */
function splitCommand(line: string): [string, string | undefined] {
  const match = /^([a-z?]+)(?:[ =](.*))?$/i.exec(line);
  if (!match) return [line, undefined];
  return [match[1]!.toLowerCase(), match[2]];
}

function pose(p: { x: number; y: number; heading: number }): string {
  return `${p.x.toFixed(3)},${p.y.toFixed(3)},${p.heading.toFixed(1)}`;
}
