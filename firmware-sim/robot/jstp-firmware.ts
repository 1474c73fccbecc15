/**
 * The robot's firmware as a small JSTP engine speaking compact CBOR in link frames.
 * The gateway reaches its resources with transactions:
 * `GET ["description"]`, `GET ["properties"]`, `GET|PUT ["properties", name]`,
 * `POST ["actions", name]`. The firmware pushes, without a transaction,
 * `PATCH ["properties", name] {value}`, `POST ["events", name] {data}`, and
 * `PUT ["description"]` (its description) when it boots.
 */
import { FramedDispatchLink } from '../../gateway/jstp/codec/framed-link.js';
import type { FrameCounters } from '../../gateway/jstp/codec/frames.js';
import type { Channel } from '../../gateway/jstp/channel.js';
import { createDispatch, type Dispatch } from '../../gateway/jstp/dispatch.js';
import { Engine, type Incoming } from '../../gateway/jstp/engine.js';
import { Status } from '../../gateway/jstp/errors.js';
import { ROBOT_DESCRIPTION } from './description.js';
import { RobotRefused, type RobotChange, type RobotRefusal, type RobotValues } from './model.js';
import type { FirmwareContext, FirmwareProtocol } from './protocol.js';

const REFUSAL_STATUS: Readonly<Record<RobotRefusal, number>> = {
  'bad-value': Status.BadDispatch,
  busy: Status.Forbidden,
  'motors-off': Status.Forbidden,
  'battery-low': Status.Forbidden,
  'read-only': Status.Forbidden,
  unknown: Status.NotFound,
};

export class JstpFirmware implements FirmwareProtocol {
  private readonly engine: Engine;
  private readonly frames: FramedDispatchLink;
  private readonly channel: Channel;
  private closed = false;

  constructor(private readonly context: FirmwareContext) {
    this.engine = new Engine({ logger: context.logger });
    this.channel = { id: 'robot serial', send: (dispatch) => this.send(dispatch) };
    this.frames = new FramedDispatchLink({
      write: (bytes) => context.write(bytes),
      onDispatch: (raw) => this.engine.receive(raw, this.channel),
      onRefused: (raw, reason) => this.engine.refuse(raw, this.channel, reason),
      // A device's firmware offers resource aliases: its reports then shrink to a fraction.
      offerAliases: true,
      onUndecodable: (error) => context.logger.debug({ err: error }, 'undecodable frame dropped'),
    });
    const { model } = context;
    const on = (method: 'GET' | 'PUT' | 'POST', resource: string[], handler: (incoming: Incoming) => unknown) =>
      this.engine.bind({ method, resource }, (incoming) => {
        try {
          return handler(incoming);
        } catch (error) {
          if (!(error instanceof RobotRefused)) throw error;
          incoming.answer(REFUSAL_STATUS[error.reason], { reason: error.message });
          return undefined;
        }
      });
    on('GET', ['description'], () => ROBOT_DESCRIPTION);
    on('GET', ['properties'], () => model.values);
    on('GET', ['properties', ':name'], (incoming) => {
      const name = String(incoming.params.name);
      const values = model.values as unknown as Record<string, unknown>;
      if (!Object.hasOwn(values, name)) throw new RobotRefused('unknown', `no property ${name}`);
      return values[name];
    });
    on('PUT', ['properties', ':name'], (incoming) => {
      const name = incoming.params.name as keyof RobotValues;
      if (name === 'speed') return model.setSpeed(incoming.body);
      if (name === 'motors') return model.setMotors(incoming.body);
      if (Object.hasOwn(model.values, name)) throw new RobotRefused('read-only', `${name} is read-only`);
      throw new RobotRefused('unknown', `no property ${String(name)}`);
    });
    on('POST', ['actions', ':name'], (incoming) => {
      const input = (incoming.body ?? {}) as Record<string, unknown>;
      switch (incoming.params.name) {
        case 'move':
          return model.move(input.distance);
        case 'rotate':
          return model.rotate(input.angle);
        case 'stop':
          return model.stop();
        default:
          throw new RobotRefused('unknown', `no action ${String(incoming.params.name)}`);
      }
    });
  }

  /** Frames counted by the firmware's own decoder (what the gateway sent it). */
  get counters(): FrameCounters {
    return this.frames.counters;
  }

  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    this.frames.receive(bytes);
  }

  report(change: RobotChange): void {
    if (change.kind === 'property') this.push('PATCH', ['properties', change.name], { value: change.value });
    else this.push('POST', ['events', change.name], { data: change.data });
  }

  announce(): void {
    this.push('PUT', ['description'], ROBOT_DESCRIPTION);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.engine.close();
  }

  private push(method: 'PATCH' | 'POST' | 'PUT', resource: string[], body: unknown): void {
    this.send(createDispatch(method, resource, { body }));
  }

  private send(dispatch: Dispatch): void {
    if (this.closed) return;
    this.frames.send(dispatch);
  }
}
