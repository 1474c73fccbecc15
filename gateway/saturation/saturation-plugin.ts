/**
 * The saturation plugin: samples the machine and the process, keeps the level with
 * hysteresis, and serves it.
 * - `GET ["gateway", "saturation"]`: the latest report (the whole state).
 * - `PATCH ["gateway", "saturation"]`: the report, to subscribers, every period and
 *   at once when the level changes.
 * - `POST ["gateway", "events", "saturation"]`: each level change.
 * - `GET /metrics` on the HTTP port (Prometheus text).
 * - `saturation.onCritical`: a command run when the level becomes critical.
 * Its stage counts the requests and errors the report gives per second.
 */
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import type { GatewayPlugin, PluginContext } from '../plugin.js';
import { LevelTracker, type Thresholds } from './levels.js';
import { createMetrics } from './metrics.js';
import { OnCritical } from './on-critical.js';
import { partsOf } from './parts.js';
import { overallUtilization, RESOURCES, type LevelChange, type Resource, type SaturationReport } from './report.js';
import { RequestMeter } from './request-meter.js';
import { round, Sampler } from './sampler.js';
import type { SaturationConfig } from './schema.js';

export const SATURATION_RESOURCE = ['gateway', 'saturation'] as const;
export const SATURATION_EVENT_RESOURCE = ['gateway', 'events', 'saturation'] as const;

/** The plugins the command runs for a config: the saturation plugin unless `saturation.enabled` is false. */
export function saturationPlugins(config: Config): GatewayPlugin[] {
  return config.saturation.enabled ? [saturationPlugin()] : [];
}

/** Samples are taken this often at most, so a level change comes well within two periods. */
function sampleIntervalMs(periodMs: number): number {
  return Math.min(1_000, periodMs / 2);
}

export function saturationPlugin(): GatewayPlugin {
  return {
    name: 'saturation',
    async start(context: PluginContext) {
      const settings: SaturationConfig = context.config.saturation;
      const { engine, logger } = context;
      const base = context.configDir ?? process.cwd();
      const paths = [resolve(base, settings.dataDir), ...settings.paths.map((path) => resolve(base, path))];
      const thresholds: Partial<Record<Resource, Thresholds>> = {};
      for (const resource of RESOURCES) {
        const entry = settings.thresholds[resource];
        if (entry !== false) thresholds[resource] = entry;
      }
      const counted = new Set(Object.keys(thresholds) as Resource[]);
      const periodMs = settings.periodS * 1000;
      const intervalMs = sampleIntervalMs(periodMs);

      const meter = new RequestMeter();
      const removeStage = engine.use(meter);
      const sampler = new Sampler({ paths, interfaces: settings.interfaces });
      const tracker = new LevelTracker({ thresholds, sustain: settings.sustain, windowMs: settings.windowS * 1000 });
      const onCritical = settings.onCritical
        ? new OnCritical({ ...settings.onCritical, logger: logger.child({ component: 'onCritical' }), cwd: base })
        : undefined;

      let seq = 0;
      let latest: SaturationReport | undefined;
      let counters = { requests: 0, errors: 0, at: performance.now() };
      let nextReportAt = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stopped = false;
      // A GET before the first sample waits for it: measuring on demand would feed the hysteresis extra samples.
      let firstReport!: (report: SaturationReport) => void;
      const first = new Promise<SaturationReport>((resolve) => (firstReport = resolve));

      const measure = async (): Promise<SaturationReport> => {
        const figures = await sampler.sample();
        const now = performance.now();
        const seconds = Math.max(0.001, (now - counters.at) / 1000);
        const requests = { perS: round((meter.requests - counters.requests) / seconds), errorsPerS: round((meter.errors - counters.errors) / seconds) };
        counters = { requests: meter.requests, errors: meter.errors, at: now };
        const parts = partsOf(figures, counted);
        const change = tracker.observe(parts, figures.at);
        const { utilization, limiting } = overallUtilization(parts);
        const report: SaturationReport = {
          seq: ++seq,
          at: figures.at,
          periodS: settings.periodS,
          level: tracker.level,
          utilization,
          limiting,
          parts,
          cpu: figures.cpu,
          memory: figures.memory,
          disk: figures.disk,
          network: figures.network,
          requests,
        };
        latest = report;
        firstReport(report);
        if (change) levelChanged(change, report);
        return report;
      };

      const levelChanged = (change: { from: SaturationReport['level']; to: SaturationReport['level'] }, report: SaturationReport): void => {
        const event: LevelChange = { ...change, at: report.at, seq: report.seq, utilization: report.utilization, limiting: report.limiting, parts: report.parts };
        const log = change.to === 'ok' ? logger.info.bind(logger) : logger.warn.bind(logger);
        log({ from: change.from, to: change.to, utilization: report.utilization, limiting: report.limiting }, 'saturation level changed');
        engine.emit('POST', [...SATURATION_EVENT_RESOURCE], event);
        // Balancers hear of the change now rather than at the next period.
        nextReportAt = 0;
        if (change.to === 'critical') onCritical?.trigger(report);
      };

      const tick = async (): Promise<void> => {
        timer = undefined;
        try {
          const report = await measure();
          if (stopped) return;
          const now = performance.now();
          if (now >= nextReportAt) {
            nextReportAt = now + periodMs - intervalMs / 2;
            engine.emit('PATCH', [...SATURATION_RESOURCE], report);
          }
        } catch (error) {
          logger.error({ err: error }, 'saturation sample failed');
        }
        if (!stopped) schedule();
      };
      const schedule = (): void => {
        timer = setTimeout(() => void tick(), intervalMs);
        timer.unref();
      };

      await sampler.start();
      const unbind = engine.bind({ method: 'GET', resource: [...SATURATION_RESOURCE] }, () => latest ?? first);
      const metrics = createMetrics({ engine, registry: context.registry, transports: context.transports, meter, latest: () => latest, first, paths });
      const unroute = context.http.route('/metrics', metrics.handler);
      schedule();
      logger.debug({ periodS: settings.periodS, sampleMs: intervalMs, paths, counted: [...counted] }, 'saturation reporting started');

      return () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        sampler.stop();
        unroute();
        unbind();
        removeStage();
        metrics.registry.clear();
      };
    },
  };
}
