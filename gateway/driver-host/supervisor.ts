/**
 * Runs one driver so that its failures stay its own. A `start` that throws, rejects
 * or never finishes, and (for a scoped driver) an exception or unhandled rejection
 * raised by the driver's code later (fault-scope.ts), are logged with the driver's name; its devices go
 * offline and stay listed, the driver is stopped, and it is started again with
 * backoff. Everything it reports after it failed is ignored: each start hands the
 * driver a context of its own, and a failure retires that context's handles.
 *
 * A config or profile error (`PASARELA_CONFIG`, `PASARELA_PROFILE`) from the first
 * start is not isolated: the gateway does not start, so the config is fixed instead
 * of running with a driver missing.
 *
 * Its config entries can change while it runs (`setDevices`, a device gate let one
 * in or held one back): the driver is stopped and started on the new list, since a
 * driver takes its entries once, at start.
 */
import type { DeviceConfig, DeviceHandle, DeviceHandlers, Driver, DriverContext } from '../../drivers/driver.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { Backoff, type BackoffOptions } from '../jstp/backoff.js';
import { ErrorCode, PasarelaError } from '../jstp/errors.js';
import type { Logger } from '../jstp/logger.js';
import { asGateway, runAs, type FaultKind, type FaultOwner } from './fault-scope.js';

export type DriverState = 'starting' | 'running' | 'failed' | 'stopped';

/** Where a driver came from: `GET ["drivers"]` shows it. */
export interface DriverSource {
  readonly origin: 'built-in' | 'package' | 'file';
  /** Its package's version (Pasarela's for a built-in one), or the driver's own `version`. */
  readonly version?: string | undefined;
  /** As the config names it: `pasarela-driver-hue`, `./drivers/my-lamp.js`. */
  readonly module?: string;
  /** The file that was imported. */
  readonly path?: string;
}

/** How a failed driver is started again; `false`: it stays failed until the gateway restarts. */
export type RestartPolicy = BackoffOptions | false;

export const RESTART_DEFAULTS: Readonly<BackoffOptions> = { initialMs: 1_000, maxMs: 60_000, factor: 2, jitter: 0.5, stableMs: 60_000 };

/** How long `start` and `stop` may take. */
export const START_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 5_000;

export interface DriverFailure {
  readonly message: string;
  readonly code?: string;
  /** `start`, `uncaught exception` or `unhandled rejection`. */
  readonly during: 'start' | FaultKind;
  readonly at: number;
}

/** One entry of `GET ["drivers"]`. */
export interface DriverStatus {
  readonly name: string;
  readonly version: string | null;
  readonly origin: DriverSource['origin'];
  readonly module?: string;
  readonly path?: string;
  readonly state: DriverState;
  /** Its devices in the registry, online or not. */
  readonly devices: number;
  /** Failures since the gateway started. */
  readonly failures: number;
  readonly lastFailure?: DriverFailure;
  /** When it is started again (ms since the epoch), while it is failed. */
  readonly restartAt?: number;
}

export interface SupervisorOptions {
  readonly driver: Driver;
  readonly registry: DeviceRegistry;
  readonly logger: Logger;
  readonly devices: readonly DeviceConfig[];
  readonly options: Readonly<Record<string, unknown>>;
  readonly profiles: Readonly<Record<string, unknown>>;
  readonly source: DriverSource;
  readonly restart?: RestartPolicy;
  readonly startTimeoutMs?: number;
  /**
   * Run the driver's code in a fault scope of its own, so that an exception or a
   * rejection it raises later is isolated too (default true). Without it, only a
   * failed start is isolated, and nothing of the process pays for the scope.
   */
  readonly scoped?: boolean;
}

type HandlerName = keyof DeviceHandlers;
const HANDLER_NAMES: readonly HandlerName[] = ['readProperty', 'writeProperty', 'invokeAction'];

function isConfigProblem(error: unknown): boolean {
  return error instanceof PasarelaError && (error.code === ErrorCode.Config || error.code === ErrorCode.Profile);
}

function failureOf(error: unknown, during: DriverFailure['during']): DriverFailure {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return { message, ...(typeof code === 'string' ? { code } : {}), during, at: Date.now() };
}

/** Settles with `work`, or rejects once `ms` passed. */
function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** A handle that does nothing: what a retired context's `addDevice` gives. */
function inertHandle(id: string): DeviceHandle {
  const nothing = (): void => undefined;
  return { id, reportProperty: nothing, reportEvent: nothing, setOnline: nothing, describe: nothing, remove: nothing };
}

export class DriverSupervisor {
  readonly name: string;
  private readonly driver: Driver;
  private readonly settings: SupervisorOptions;
  private readonly backoff: Backoff | undefined;
  private readonly logger: Logger;
  private readonly scoped: boolean;
  /** Each start's context is one generation; a failure moves on, retiring the old one's handles. */
  private generation = 0;
  /** The registry's handles of the current generation's devices. */
  private handles: DeviceHandle[] = [];
  private current: DriverState = 'stopped';
  private failures = 0;
  private lastFailure: DriverFailure | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private restartAt: number | undefined;
  private closed = false;
  /** The failure being handled (stopping the driver), so close can wait for it. */
  private failing: Promise<void> | undefined;
  /** The entries it runs (the next start's, when it is not running). */
  private devices: readonly DeviceConfig[];
  /** The handles of the generation that failed last (its devices, offline). */
  private failedHandles: DeviceHandle[] = [];
  /** The ids of the entries the running generation started with. */
  private startedWith: ReadonlySet<string> = new Set();
  /** The start in flight, so a change of entries waits for it. */
  private attempting: Promise<unknown> = Promise.resolve();
  /** Changes of entries, applied one after another; never rejects. */
  private reconfiguring: Promise<void> = Promise.resolve();

  constructor(settings: SupervisorOptions) {
    this.settings = settings;
    this.driver = settings.driver;
    this.name = settings.driver.name;
    this.logger = settings.logger;
    this.scoped = settings.scoped ?? true;
    this.devices = settings.devices;
    const restart = settings.restart ?? {};
    this.backoff = restart === false ? undefined : new Backoff({ ...RESTART_DEFAULTS, ...restart }, { where: `drivers[${this.name}].restart` });
  }

  get state(): DriverState {
    return this.current;
  }

  status(): DriverStatus {
    const { source, registry } = this.settings;
    return {
      name: this.name,
      version: source.version ?? null,
      origin: source.origin,
      ...(source.module === undefined ? {} : { module: source.module }),
      ...(source.path === undefined ? {} : { path: source.path }),
      state: this.current,
      devices: registry.list().filter((device) => device.driver === this.name).length,
      failures: this.failures,
      ...(this.lastFailure === undefined ? {} : { lastFailure: this.lastFailure }),
      ...(this.restartAt === undefined ? {} : { restartAt: this.restartAt }),
    };
  }

  /**
   * The first start. Resolves once the driver runs or its failure is isolated; rejects
   * only with a config or profile error, after stopping the driver.
   */
  async start(): Promise<void> {
    const error = await this.attempt();
    if (error === undefined) return;
    if (isConfigProblem(error)) {
      this.generation++;
      this.current = 'stopped';
      await this.stopDriver();
      this.settings.registry.removeDriver(this.name);
      throw error;
    }
    this.fail(error, 'start');
  }

  /**
   * Runs the driver on these entries from now on. A running driver is stopped and
   * started again on them (its devices go offline and come back; those of entries no
   * longer listed leave the registry); a failed one takes them at its restart.
   * Resolves once applied; never rejects.
   */
  setDevices(devices: readonly DeviceConfig[]): Promise<void> {
    this.devices = devices;
    this.reconfiguring = this.reconfiguring.then(() => this.applyDevices()).catch((error: unknown) => {
      this.logger.error({ err: error, driver: this.name }, `driver "${this.name}" could not change its devices`);
    });
    return this.reconfiguring;
  }

  private async applyDevices(): Promise<void> {
    await this.attempting;
    await this.failing;
    const wanted = new Set(this.devices.map((device) => device.id));
    const before = this.startedWith;
    if (this.closed || (wanted.size === before.size && [...wanted].every((id) => before.has(id)))) return;
    if (this.current === 'failed') {
      // It starts again on the new list; what it no longer runs leaves the registry now.
      for (const handle of this.failedHandles) if (before.has(handle.id) && !wanted.has(handle.id)) asGateway(() => handle.remove());
      return;
    }
    if (this.current !== 'running') return;
    this.logger.info({ driver: this.name, devices: [...wanted] }, `driver "${this.name}" starts again with other devices`);
    // Its handles stay live while it stops: the driver takes its devices offline itself.
    await this.stopDriver();
    if (this.closed) return;
    for (const handle of this.handles) if (before.has(handle.id) && !wanted.has(handle.id)) asGateway(() => handle.remove());
    const error = await this.attempt();
    if (error !== undefined && !this.closed) this.fail(error, 'start');
  }

  /** Stops the driver for good (the gateway closes); never rejects. */
  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.restartAt = undefined;
    await this.reconfiguring;
    await this.failing;
    const running = this.current === 'running' || this.current === 'starting';
    this.current = 'stopped';
    try {
      // Its handles stay live while it stops: a driver takes its devices offline itself.
      if (running) await this.stopDriver(true);
    } finally {
      this.generation++;
      this.settings.registry.removeDriver(this.name);
    }
  }

  /** Starts the driver on a fresh context; resolves with the error it failed with, if any. */
  private attempt(): Promise<unknown> {
    const attempt = this.attemptOnce();
    this.attempting = attempt;
    return attempt;
  }

  private async attemptOnce(): Promise<unknown> {
    const generation = ++this.generation;
    this.handles = [];
    this.current = 'starting';
    this.startedWith = new Set(this.devices.map((device) => device.id));
    const context = this.contextFor(generation);
    const timeoutMs = this.settings.startTimeoutMs ?? START_TIMEOUT_MS;
    let error: unknown;
    try {
      await within(timeoutMs, `driver "${this.name}" start`, this.run(this.owner(generation), () => Promise.resolve().then(() => this.driver.start(context))));
    } catch (failure) {
      error = failure ?? new Error(`driver "${this.name}" start rejected without a reason`);
    }
    // A fault while starting was handled already; a close may have come meanwhile.
    if (generation !== this.generation) return undefined;
    if (error !== undefined) return error;
    this.current = 'running';
    this.backoff?.succeeded();
    return undefined;
  }

  /** Retires the generation, takes its devices offline, stops the driver and plans the restart. */
  private fail(error: unknown, during: DriverFailure['during']): void {
    this.generation++;
    this.current = 'failed';
    this.failures++;
    this.lastFailure = failureOf(error, during);
    const restartMs = this.closed ? undefined : this.backoff?.next();
    this.logger.error(
      { err: error, driver: this.name, during, code: ErrorCode.DriverFailed, ...(restartMs === undefined ? {} : { restartInMs: Math.round(restartMs) }) },
      `driver "${this.name}" failed (${during}): its devices are offline${restartMs === undefined ? '' : `; it starts again in ${Math.round(restartMs)} ms`}`,
    );
    const handles = this.handles;
    this.handles = [];
    this.failedHandles = handles;
    asGateway(() => {
      for (const handle of handles) handle.setOnline(false);
    });
    this.failing = (async () => {
      await this.stopDriver();
      this.failing = undefined;
      if (restartMs === undefined || this.closed) return;
      this.restartAt = Date.now() + restartMs;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        this.restartAt = undefined;
        void this.restart();
      }, restartMs);
    })();
  }

  private async restart(): Promise<void> {
    this.logger.info({ driver: this.name, attempt: this.failures }, `driver "${this.name}" starting again`);
    const error = await this.attempt();
    if (error !== undefined && !this.closed) this.fail(error, 'start');
  }

  /** `stop()` in a retired scope: whatever it raises is logged, never isolated twice. */
  private async stopDriver(closing = false): Promise<void> {
    const owner: FaultOwner = { name: this.name, fault: (error) => this.late(error) };
    try {
      await within(STOP_TIMEOUT_MS, `driver "${this.name}" stop`, this.run(owner, () => Promise.resolve().then(() => this.driver.stop())));
    } catch (error) {
      if (closing) throw error;
      this.logger.warn({ err: error, driver: this.name }, `driver "${this.name}" failed to stop`);
    }
  }

  /** Runs the driver's code, in its scope when it is scoped. */
  private run<T>(owner: FaultOwner, fn: () => T): T {
    return this.scoped ? runAs(owner, fn) : fn();
  }

  /** A scope's owner: faults count only while its generation is the current one. */
  private owner(generation: number): FaultOwner {
    return {
      name: this.name,
      fault: (error, kind) => {
        if (generation !== this.generation || this.closed) this.late(error);
        else this.fail(error, kind);
      },
    };
  }

  private late(error: unknown): void {
    this.logger.warn({ err: error, driver: this.name }, `driver "${this.name}" raised an error after it had stopped`);
  }

  /** The context of one generation: its handles go inert when the generation is retired. */
  private contextFor(generation: number): DriverContext {
    const { registry, options, profiles } = this.settings;
    const devices = this.devices;
    const base = registry.context(this.name, devices, options, this.logger, profiles);
    const live = (): boolean => generation === this.generation;
    const owner = this.owner(generation);
    return {
      logger: this.logger,
      devices,
      options,
      profiles,
      addDevice: (info, handlers) => {
        if (!live()) return inertHandle(info.id ?? info.key);
        const raw = asGateway(() => base.addDevice(info, this.scopedHandlers(handlers, owner)));
        this.handles.push(raw);
        return this.guarded(raw, live);
      },
    };
  }

  /** The driver's handlers, each call run in the driver's scope (when it has one). */
  private scopedHandlers(handlers: DeviceHandlers, owner: FaultOwner): DeviceHandlers {
    const scoped: DeviceHandlers = {};
    for (const name of HANDLER_NAMES) {
      const handler = handlers[name] as ((...args: unknown[]) => Promise<unknown>) | undefined;
      if (handler) (scoped as Record<HandlerName, unknown>)[name] = (...args: unknown[]) => this.run(owner, () => handler.apply(handlers, args));
    }
    return scoped;
  }

  /** A handle that does nothing once its generation is retired, and reaches the gateway outside the driver's scope. */
  private guarded(raw: DeviceHandle, live: () => boolean): DeviceHandle {
    return {
      id: raw.id,
      reportProperty: (name, value, at) => void (live() && asGateway(() => raw.reportProperty(name, value, at))),
      reportEvent: (name, data, at) => void (live() && asGateway(() => raw.reportEvent(name, data, at))),
      setOnline: (online) => void (live() && asGateway(() => raw.setOnline(online))),
      describe: (description) => void (live() && asGateway(() => raw.describe(description))),
      remove: () => {
        if (!live()) return;
        this.handles = this.handles.filter((handle) => handle !== raw);
        asGateway(() => raw.remove());
      },
    };
  }
}
