/**
 * The fleet plugin: joins the NATS cluster of the `fleet` config section, routes
 * `nats` hops and `["fleet", name, ...]` resources to other gateways, publishes this
 * gateway's events and heartbeats, and serves `GET ["fleet"]` (every gateway: name,
 * online, devices, saturation level) and `GET ["fleet", name]`, with `PATCH
 * ["fleet", name]` when one joins or goes. Its device gate runs shared devices (one
 * gateway configured with `standby: true`) only where their lease is held
 * (standby.ts). Without a `fleet` section it is not loaded.
 */
import type { GatewayPlugin } from '../plugin.js';
import { errors } from '../jstp/errors.js';
import type { KV } from '@nats-io/kv';
import type { UplinkDialer } from '../uplinks/dialers.js';
import type { FleetConfig } from './config.js';
import { Fleet } from './fleet.js';
import { existingLeases, openLeases } from './lease.js';
import { NatsLink } from './nats-link.js';
import { StandbyDevices } from './standby.js';
import { natsUplinkDialer } from './uplink-link.js';

export interface FleetPluginOptions {
  /**
   * An uplink with a `nats:` URL carries this gateway's events (durably, through its
   * store): the fleet then publishes none itself, so no event goes out twice.
   */
  eventsByUplink?: boolean;
}

/** The plugin, and the `nats:` uplink dialer that uses its connection once it started. */
export type FleetPlugin = GatewayPlugin & { readonly uplinkDialer: UplinkDialer };

export function fleetPlugin(config: FleetConfig, options: FleetPluginOptions = {}): FleetPlugin {
  let current: NatsLink | undefined;
  return {
    name: 'fleet',
    uplinkDialer: natsUplinkDialer(() => current, () => config.name),
    async start(context) {
      const { engine, logger, registry } = context;
      const link = new NatsLink(config, logger);
      current = link;
      let leases: Promise<KV> | undefined;
      // Opened once the cluster is reachable; tried again after a failure.
      const bucket = (): Promise<KV> =>
        (leases ??= link.whenConnected().then((connection) => openLeases(connection, config.leaseTtlMs)).catch((error: unknown) => {
          leases = undefined;
          throw error;
        }));
      const existing = async (): Promise<KV | undefined> => leases ?? existingLeases(await link.whenConnected());
      const fleet = new Fleet({
        engine,
        link,
        config,
        logger,
        publishEvents: options.eventsByUplink !== true,
        // `standby` is made right below, before the fleet starts.
        describe: () => ({ devices: registry.list(), leases: standby.list() }),
      });
      // Whether another gateway runs the device without its lease, as its heartbeats say.
      const runsUnleased = (device: string): boolean =>
        fleet.members.list().some(
          (member) =>
            member.online &&
            member.name !== config.name &&
            member.devices.some((entry) => entry.id === device && entry.online) &&
            !(member.leases ?? []).some((lease) => lease.device === device && lease.holding),
        );
      const standby = new StandbyDevices({ devices: context.config.devices, name: config.name, ttlMs: config.leaseTtlMs, logger, bucket, existing, runsUnleased });
      const removeStage = engine.use(fleet.stage());
      const inner = context.forwarding?.forwarder;
      engine.setForwarder(fleet.forwarder(inner));
      const unbinds = [
        engine.bind({ method: 'GET', resource: ['fleet'] }, () => ({ name: fleet.name, nats: link.state, members: fleet.list() })),
        // The saturation plugin's reports: at critical this gateway leaves its service groups.
        engine.bind({ method: 'PATCH', resource: ['gateway', 'saturation'] }, (incoming) => {
          const level = (incoming.body as { level?: unknown } | undefined)?.level;
          if (typeof level === 'string') fleet.setLevel(level);
        }),
        engine.bind({ method: 'GET', resource: ['fleet', ':name'] }, (incoming) => {
          const name = String(incoming.params.name);
          const member = fleet.list().find((candidate) => candidate.name === name);
          if (!member) throw errors.unknownGateway(`no gateway "${name}" in the fleet`);
          return member;
        }),
      ];
      fleet.start();
      // The drivers start after this plugin: they run what the gate admits from their first start.
      const ungate = context.drivers.gate(standby);
      unbinds.push(standby.onChange(() => fleet.changed()), registry.watch(() => fleet.changed()));
      await standby.start();
      return async () => {
        for (const unbind of unbinds) unbind();
        // After the drivers stopped: a held lease is given up now, so a standby takes over at once.
        await standby.stop();
        ungate();
        await fleet.stop();
        removeStage();
        engine.setForwarder(inner);
        current = undefined;
        await link.close();
      };
    },
  };
}

/** The fleet plugin when the config has a `fleet` section. */
export function fleetPlugins(config: { fleet?: FleetConfig | undefined; uplinks?: readonly { url: string }[] | undefined }): FleetPlugin[] {
  const eventsByUplink = (config.uplinks ?? []).some((uplink) => uplink.url.startsWith('nats:'));
  return config.fleet ? [fleetPlugin(config.fleet, { eventsByUplink })] : [];
}
