/**
 * Keeps Home Assistant's picture of the gateway's devices true over MQTT: discovery
 * payloads for every device (planned in entities.ts), availability, state on each
 * change, all retained; commands from Home Assistant's command topics become PUT and
 * POST dispatches on the engine (through its pipeline, like any local request), and
 * their outcome is published. A removed device's entities get an empty retained
 * config, which removes them in Home Assistant.
 *
 * Everything retained is kept here as the state the broker should hold, and sent
 * again after each (re)connect and when Home Assistant announces itself (it may have
 * restarted with a broker that forgot). Bounded: one payload per topic, a cap on
 * commands in flight.
 */
import type { DeviceRegistry } from '../devices/registry.js';
import type { Engine, Incoming } from '../jstp/engine.js';
import { AnswerError } from '../jstp/engine.js';
import { PasarelaError, Status } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import type { HomeAssistantSettings } from './config.js';
import { commandFilters, gatewayEntity, planDevice, statusTopic, type Command, type DevicePlan, type Naming } from './entities.js';
import { commandResult, decodeCommand, statePayload } from './payloads.js';

/** The MQTT side: a connection that stays up (the plugin gives gateway/../drivers/mqtt's). */
export interface BridgeLink {
  /** Rejects at once while the broker is unreachable. */
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): Promise<void>;
  /** Filters kept across reconnects. */
  subscribe(filters: readonly string[]): void;
}

export interface BridgeOptions {
  engine: Engine;
  registry: DeviceRegistry;
  link: BridgeLink;
  settings: HomeAssistantSettings;
  version: string;
  logger: Logger;
  /** Commands waiting for their answer, over every device (default 32); more are answered 503. */
  maxInFlight?: number;
}

/** A command payload larger than this is refused without reading it. */
const MAX_COMMAND_BYTES = 16 * 1024;

export class HomeAssistantBridge {
  private readonly naming: Naming;
  private readonly plans = new Map<string, DevicePlan>();
  /** Command topic -> device id. */
  private readonly routes = new Map<string, string>();
  /** Retained topic -> payload: what the broker should hold. */
  private readonly retained = new Map<string, string>();
  /** Retained topics to empty, kept until the broker has taken the empty payload. */
  private readonly clearing = new Set<string>();
  /** Device -> action -> field -> the current choice. */
  private readonly choices = new Map<string, Map<string, Map<string, unknown>>>();
  private readonly polling = new Set<string>();
  private readonly unbinds: (() => void)[] = [];
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private inFlight = 0;
  private up = false;
  private stopped = false;

  constructor(private readonly options: BridgeOptions) {
    this.naming = { prefix: options.settings.prefix, node: options.settings.node, version: options.version };
  }

  get status(): string {
    return statusTopic(this.naming.node);
  }

  /** Starts mirroring: the devices there are now, and every change from here on. */
  start(): void {
    const { engine, registry } = this.options;
    const observe = (handle: (incoming: Incoming) => void) => (incoming: Incoming) => {
      handle(incoming);
      // A request (not an emit) on these resources is not ours to answer.
      if (incoming.expectsAnswer) incoming.answer(Status.NoMoreAnswers);
      return undefined;
    };
    this.unbinds.push(
      registry.watch((change) => (change.kind === 'removed' ? this.forget(change.id) : this.plan(change.id))),
      engine.bind({ method: 'PATCH', resource: ['devices', ':id', 'properties', ':name'] }, observe((incoming) => this.onValue(String(incoming.params.id), String(incoming.params.name), incoming.body))),
      engine.bind({ method: 'PATCH', resource: ['devices', ':id'] }, observe((incoming) => this.onAvailability(String(incoming.params.id), incoming.body))),
      engine.bind({ method: 'POST', resource: ['devices', ':id', 'events', ':name'] }, observe((incoming) => this.onEvent(String(incoming.params.id), String(incoming.params.name), incoming.body))),
    );
    const gateway = gatewayEntity(this.naming);
    this.retain(gateway.topic, JSON.stringify(gateway.config));
    for (const device of registry.list()) this.plan(device.id);
    this.options.link.subscribe([...commandFilters(this.naming.node), `${this.naming.prefix}/status`]);
    const everyMs = this.options.settings.pollSeconds * 1000;
    if (everyMs > 0) {
      this.pollTimer = setInterval(() => {
        for (const id of this.plans.keys()) this.poll(id);
      }, everyMs);
      this.pollTimer.unref?.();
    }
  }

  /** The link is up (again): the broker gets everything it should hold. */
  connected(): void {
    this.up = true;
    this.send(this.status, 'online', true);
    this.republish();
  }

  disconnected(): void {
    this.up = false;
  }

  /** A message on a subscribed topic. */
  message(topic: string, payload: Buffer): void {
    if (topic === `${this.naming.prefix}/status`) {
      // Home Assistant's birth message: it may have restarted and lost what it knew.
      if (payload.toString('utf8') === 'online') this.republish();
      return;
    }
    const id = this.routes.get(topic);
    const command = id === undefined ? undefined : this.plans.get(id)?.commands.get(topic);
    if (id === undefined || command === undefined) {
      this.options.logger.debug({ topic }, 'Home Assistant command for nothing we know: dropped');
      return;
    }
    if (payload.length > MAX_COMMAND_BYTES) {
      this.options.logger.warn({ topic, bytes: payload.length }, 'Home Assistant command too large: refused');
      if (command.kind !== 'choose') this.publishResult(command.result, Status.BadDispatch, { error: `a command of at most ${MAX_COMMAND_BYTES} bytes` });
      return;
    }
    void this.run(id, command, payload.toString('utf8'));
  }

  /** Stops mirroring; tells the broker the gateway is offline (before the link closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    for (const unbind of this.unbinds.splice(0)) unbind();
    if (this.up) await this.options.link.publish(this.status, 'offline', { qos: 1, retain: true }).catch(() => undefined);
  }

  // ---- devices --------------------------------------------------------------------

  private plan(id: string): void {
    if (this.stopped) return;
    let details;
    try {
      details = this.options.registry.details(id);
    } catch {
      return; // removed meanwhile
    }
    const before = this.plans.get(id);
    const plan = planDevice(details, this.naming);
    for (const reason of plan.skipped) this.options.logger.debug({ id, reason }, 'not in Home Assistant');
    this.plans.set(id, plan);
    if (before) for (const topic of before.commands.keys()) this.routes.delete(topic);
    for (const topic of plan.commands.keys()) this.routes.set(topic, id);

    // What the old plan had and the new one has not: emptied.
    const kept = new Set([...this.topicsOf(plan), ...plan.entities.map((entity) => entity.topic)]);
    if (before) for (const topic of [...before.entities.map((entity) => entity.topic), ...this.topicsOf(before)]) if (!kept.has(topic)) this.clear(topic);

    for (const entity of plan.entities) this.retain(entity.topic, JSON.stringify(entity.config));
    this.retain(plan.availability, details.online ? 'online' : 'offline');
    const values = this.options.registry.values(id);
    for (const [name, topic] of plan.states) {
      const value = values[name];
      if (value !== undefined) this.retain(topic, statePayload(value.value));
    }
    const choices = this.choicesOf(id);
    for (const [action, actionPlan] of plan.actions) {
      const chosen = choices.get(action) ?? new Map<string, unknown>();
      choices.set(action, chosen);
      for (const [field, input] of actionPlan.fields) {
        if (!chosen.has(field) && input.initial !== undefined) chosen.set(field, input.initial);
        if (chosen.has(field)) this.retain(input.state, statePayload(chosen.get(field)));
      }
    }
    if (details.online) this.poll(id);
  }

  private forget(id: string): void {
    const plan = this.plans.get(id);
    if (!plan) return;
    this.plans.delete(id);
    this.choices.delete(id);
    for (const topic of plan.commands.keys()) this.routes.delete(topic);
    // The configs first: Home Assistant removes the entities, then their topics go.
    for (const entity of plan.entities) this.clear(entity.topic);
    for (const topic of this.topicsOf(plan)) this.clear(topic);
  }

  /** The retained topics of a plan besides its configs. */
  private topicsOf(plan: DevicePlan): string[] {
    const inputs = [...plan.actions.values()].flatMap((action) => [...action.fields.values()].map((field) => field.state));
    const results = [...plan.commands.values()].flatMap((command) => (command.kind === 'choose' ? [] : [command.result]));
    return [plan.availability, ...plan.states.values(), ...inputs, ...results];
  }

  private choicesOf(id: string): Map<string, Map<string, unknown>> {
    let choices = this.choices.get(id);
    if (!choices) {
      choices = new Map();
      this.choices.set(id, choices);
    }
    return choices;
  }

  // ---- from the gateway -------------------------------------------------------------

  private onValue(id: string, name: string, body: unknown): void {
    const topic = this.plans.get(id)?.states.get(name);
    if (topic === undefined || body === null || typeof body !== 'object' || !('value' in body)) return;
    this.retain(topic, statePayload((body as { value: unknown }).value));
  }

  private onAvailability(id: string, body: unknown): void {
    const plan = this.plans.get(id);
    const online = (body as { online?: unknown } | null)?.online;
    if (!plan || typeof online !== 'boolean') return;
    this.retain(plan.availability, online ? 'online' : 'offline');
    if (online) this.poll(id);
  }

  private onEvent(id: string, name: string, body: unknown): void {
    const topic = this.plans.get(id)?.events;
    if (topic === undefined) return;
    const data = (body as { data?: unknown } | null)?.data;
    // Home Assistant keeps the payload's other keys as the event's attributes.
    const attributes = data !== null && typeof data === 'object' && !Array.isArray(data) ? data : data === undefined || data === null ? {} : { data };
    this.send(topic, JSON.stringify({ ...attributes, event_type: name }), false);
  }

  /** Reads the properties the device does not report by itself; their PATCH then updates the state. */
  private poll(id: string): void {
    const plan = this.plans.get(id);
    if (!plan || plan.polled.length === 0 || this.polling.has(id) || this.stopped) return;
    this.polling.add(id);
    void Promise.allSettled(plan.polled.map((name) => this.options.engine.get(['devices', id, 'properties', name]).first())).then((outcomes) => {
      this.polling.delete(id);
      const failed = outcomes.filter((outcome) => outcome.status === 'rejected').length;
      if (failed > 0) this.options.logger.debug({ id, failed }, 'could not read every polled property');
    });
  }

  // ---- from Home Assistant ------------------------------------------------------------

  private async run(id: string, command: Command, text: string): Promise<void> {
    if (command.kind === 'choose') {
      const decoded = decodeCommand(text, command.schema);
      if (!decoded.ok) {
        this.options.logger.warn({ id, action: command.action, field: command.field, error: decoded.error }, 'Home Assistant chose an input that does not fit: ignored');
        return;
      }
      this.choicesOf(id).get(command.action)?.set(command.field, decoded.value);
      this.retain(command.state, statePayload(decoded.value));
      return;
    }
    let resource: string[];
    let body: unknown;
    let method: 'PUT' | 'POST';
    if (command.kind === 'write') {
      const decoded = decodeCommand(text, command.schema);
      if (!decoded.ok) {
        this.publishResult(command.result, Status.BadDispatch, { error: decoded.error });
        return;
      }
      method = 'PUT';
      resource = ['devices', id, 'properties', command.property];
      body = decoded.value;
    } else {
      const input = this.inputOf(id, command.action);
      if ('missing' in input) {
        this.publishResult(command.result, Status.BadDispatch, { error: `choose ${input.missing} first` });
        return;
      }
      method = 'POST';
      resource = ['devices', id, 'actions', command.action];
      body = input.body;
    }
    const limit = this.options.maxInFlight ?? 32;
    if (this.inFlight >= limit) {
      this.options.logger.warn({ id, resource, limit }, 'too many Home Assistant commands in flight: refused');
      this.publishResult(command.result, Status.InternalError, { error: `${limit} commands are already waiting for their devices` });
      return;
    }
    this.inFlight++;
    try {
      const answer = await this.options.engine.request(method, resource, body).first();
      this.publishResult(command.result, answer.status, answer.body);
      // What the device does not report by itself may have changed with it (a cup counter).
      this.poll(id);
    } catch (error) {
      const answered = error instanceof AnswerError ? error.answers.find((answer) => answer.status >= 400) : undefined;
      if (answered) this.publishResult(command.result, answered.status, answered.body);
      else this.publishResult(command.result, error instanceof PasarelaError && error.status !== undefined ? error.status : Status.InternalError, { error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.inFlight--;
    }
  }

  /** An action's input from the current choices. */
  private inputOf(id: string, action: string): { body: unknown } | { missing: string } {
    const plan = this.plans.get(id)?.actions.get(action);
    if (!plan || plan.input === 'none') return { body: undefined };
    const chosen = this.choicesOf(id).get(action) ?? new Map<string, unknown>();
    const body: Record<string, unknown> = {};
    for (const [field, input] of plan.fields) {
      if (chosen.has(field)) body[field] = chosen.get(field);
      else if (input.required) return { missing: field };
    }
    return { body: plan.input === 'object' ? body : body.value };
  }

  /** Every outcome is sent, even one like the last: each command gets its own. */
  private publishResult(topic: string, status: number, body: unknown): void {
    this.retain(topic, JSON.stringify(commandResult(status, body)), true);
  }

  // ---- to the broker ------------------------------------------------------------------

  private retain(topic: string, payload: string, always = false): void {
    this.clearing.delete(topic);
    if (!always && this.retained.get(topic) === payload) return;
    this.retained.set(topic, payload);
    this.send(topic, payload, true);
  }

  private clear(topic: string): void {
    if (!this.retained.delete(topic)) return;
    this.clearing.add(topic);
    this.send(topic, '', true);
  }

  private republish(): void {
    if (!this.up) return;
    for (const topic of this.clearing) this.send(topic, '', true);
    // Configs before states, so Home Assistant listens before the states arrive.
    const configs = [...this.retained].filter(([topic]) => topic.startsWith(`${this.naming.prefix}/`));
    const rest = [...this.retained].filter(([topic]) => !topic.startsWith(`${this.naming.prefix}/`));
    for (const [topic, payload] of [...configs, ...rest]) this.send(topic, payload, true);
  }

  private send(topic: string, payload: string, retain: boolean): void {
    if (!this.up) return;
    this.options.link.publish(topic, payload, { qos: retain ? 1 : 0, retain }).then(
      () => {
        if (payload === '') this.clearing.delete(topic);
      },
      (error: unknown) => this.options.logger.debug({ err: error, topic }, 'publish to Home Assistant failed; sent again on reconnect'),
    );
  }
}

