/**
 * The uplinks as a gateway plugin: opens each store (better-sqlite3 is loaded only
 * here, so a gateway without uplinks never loads it), starts one Uplink per config
 * entry, serves `GET ["gateway", "uplinks"]`, tells `PATCH ["gateway", "uplinks",
 * name]` when a link comes up or goes down, and `POST ["gateway", "events", "buffer"]`
 * when a buffer reaches 80%, fills up, or drains again.
 */
import { resolve } from 'node:path';
import type { Config } from '../config.js';
import { errors, type PasarelaError } from '../jstp/errors.js';
import type { GatewayPlugin, PluginContext } from '../plugin.js';
import { BUILT_IN_DIALERS, type UplinkDialer } from './dialers.js';
import type { Outbox } from './outbox.js';
import type { FillLevel, QueueStats } from './queue.js';
import { parseForwardPattern, parseSize, senderOf, type ForwardPattern, type UplinkConfig } from './uplink-config.js';
import { Uplink } from './uplink.js';

export interface UplinkPluginOptions {
  /**
   * Called once when a store write or fsync failed. The command logs it and exits
   * non-zero; the default throws it from a microtask (which ends the process too).
   */
  readonly onFatal?: (error: PasarelaError) => void;
  /** Dialers by URL scheme, added to (or replacing) tcp, ws and wss. */
  readonly dialers?: Readonly<Record<string, UplinkDialer>>;
}

/** The store file when `buffer.path` is not set. */
export const DEFAULT_STORE_FILE = 'pasarela-uplinks.sqlite';

/**
 * Where an uplink's store lives: `buffer.path` against the config's folder, or the
 * default file in systemd's StateDirectory when the gateway runs as a service, else
 * beside the config (or in the working folder).
 */
export function storePath(uplink: UplinkConfig, configDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const base = configDir ?? process.cwd();
  if (uplink.buffer.path !== undefined) return resolve(base, uplink.buffer.path);
  return resolve(env.STATE_DIRECTORY?.split(':')[0] ?? base, DEFAULT_STORE_FILE);
}

/** The plugin, or none when the config has no uplinks. */
export function uplinkPlugins(config: Config, options: UplinkPluginOptions = {}): GatewayPlugin[] {
  return (config.uplinks ?? []).length === 0 ? [] : [uplinkPlugin(options)];
}

function forwardPatterns(uplink: UplinkConfig): ForwardPattern[] {
  return uplink.forward.map((text, index) => {
    const parsed = parseForwardPattern(text);
    if (typeof parsed === 'string') throw errors.config(`uplinks.${uplink.name}.forward[${index}]: expected ${parsed}`);
    return parsed;
  });
}

function bufferEvent(name: string, level: FillLevel, stats: QueueStats, maxBytes: number, whenFull: string): Record<string, unknown> {
  return {
    uplink: name,
    level,
    bytes: stats.bytes,
    maxBytes,
    percent: Math.round((stats.bytes / maxBytes) * 1000) / 10,
    queued: stats.queued,
    whenFull,
    dropped: { oldest: stats.droppedOldest, expired: stats.droppedExpired, refused: stats.refused },
  };
}

export function uplinkPlugin(options: UplinkPluginOptions = {}): GatewayPlugin {
  return {
    name: 'uplinks',
    async start(context: PluginContext) {
      const { engine, logger, config } = context;
      const dialers = { ...BUILT_IN_DIALERS, ...options.dialers };
      const { Outbox } = await import('./outbox.js');
      const outboxes = new Map<string, Outbox>();
      const uplinks: Uplink[] = [];
      const undo: (() => void)[] = [];
      const stop = async (): Promise<void> => {
        for (const step of undo.splice(0).reverse()) step();
        await Promise.all(uplinks.map((uplink) => uplink.stop()));
        await Promise.all([...outboxes.values()].map((outbox) => outbox.close()));
      };
      try {
        for (const uplink of config.uplinks ?? []) {
          const url = new URL(uplink.url);
          const dialer = dialers[url.protocol.slice(0, -1)];
          if (!dialer) throw errors.config(`uplinks.${uplink.name}.url: no dialer for ${url.protocol} (known: ${Object.keys(dialers).join(', ')})`);
          const path = storePath(uplink, context.configDir);
          let outbox = outboxes.get(path);
          if (!outbox) {
            outbox = await Outbox.open({ path, logger, ...(options.onFatal ? { onFatal: options.onFatal } : {}) });
            outboxes.set(path, outbox);
          }
          const maxBytes = parseSize(uplink.buffer.maxBytes)!;
          const queue = outbox.queue(uplink.name, { maxBytes, maxAgeMs: uplink.buffer.maxAgeS * 1000, whenFull: uplink.buffer.whenFull });
          undo.push(
            queue.onLevel((level, stats) => {
              const body = bufferEvent(uplink.name, level, stats, maxBytes, uplink.buffer.whenFull);
              if (level === 'ok') logger.info(body, 'uplink buffer back below 70%');
              else logger.warn(body, level === 'warning' ? 'uplink buffer 80% full' : `uplink buffer full: ${uplink.buffer.whenFull}`);
              engine.emit('POST', ['gateway', 'events', 'buffer'], body);
            }),
          );
          uplinks.push(
            new Uplink({
              name: uplink.name,
              url,
              forward: forwardPatterns(uplink),
              serve: uplink.serve,
              sender: senderOf(uplink),
              connectTimeoutMs: uplink.connectTimeoutMs,
              ...(uplink.reconnect ? { reconnect: uplink.reconnect } : {}),
              engine,
              queue,
              dialer,
              store: path,
              maxBytes,
              logger,
              onState: (status) => engine.emit('PATCH', ['gateway', 'uplinks', uplink.name], status),
            }),
          );
          const stats = queue.stats();
          logger.info({ uplink: uplink.name, url: uplink.url, store: path, boot: outbox.boot, queued: stats.queued, bytes: stats.bytes }, 'uplink store open');
        }
        undo.push(engine.bind({ method: 'GET', resource: ['gateway', 'uplinks'] }, () => uplinks.map((uplink) => uplink.status())));
        for (const uplink of uplinks) uplink.start();
      } catch (error) {
        await stop();
        throw error;
      }
      return stop;
    },
  };
}
