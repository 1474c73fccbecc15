/**
 * The cluster plugin: instances of one service find each other, keep each other's
 * saturation reports, and a saturated instance drains.
 * - `GET ["cluster"]`: the members with their last reports (see protocol.ts).
 * - `POST ["cluster", "members"]`, `DELETE ["cluster", "members", id]`: joins, leaves.
 * - `PATCH ["cluster"]`: to subscribers on joins, leaves, drain starts and ends.
 * - At critical (`cluster.drain`, on by default) it refuses balancing clients'
 *   handshakes and new requests for `cluster.replicated` services with 503 and a
 *   redirect to the members that serve, lets what is in flight finish, and serves
 *   again once the level clears.
 * It reads this instance's own level from the saturation plugin's reports.
 */
import os from 'node:os';
import type { Config } from '../config.js';
import { ErrorCode, Status } from '../jstp/errors.js';
import type { GatewayPlugin, GatewayPorts, PluginContext } from '../plugin.js';
import type { SaturationReport } from '../saturation/report.js';
import { DrainStage } from './drain-stage.js';
import { Membership } from './membership.js';
import { CLUSTER_RESOURCE, MEMBERS_RESOURCE, readMemberInfo, type ClusterChange, type ClusterEvent, type ClusterView, type DrainRefusal, type MemberInfo } from './protocol.js';
import type { ClusterConfig } from './schema.js';

/** The plugins the command runs for a config: the cluster plugin when there is a `cluster` section. */
export function clusterPlugins(config: Config): GatewayPlugin[] {
  return config.cluster ? [clusterPlugin()] : [];
}

/** How long a refused balancing client has to read the refusal before its connection is closed. */
const REFUSED_CLOSE_MS = 1_000;

function advertised(config: Config, settings: ClusterConfig, ports: GatewayPorts): string[] {
  if (settings.advertise.length > 0) return settings.advertise;
  const listen = config.listen.host;
  // A wildcard address is where it listens, not where others reach it.
  const host = listen === '0.0.0.0' || listen === '::' ? os.hostname() : listen.includes(':') ? `[${listen}]` : listen;
  return [`tcp://${host}:${ports.tcp}`, `ws://${host}:${ports.http}`];
}

export function clusterPlugin(): GatewayPlugin {
  return {
    name: 'cluster',
    async start(context: PluginContext) {
      const settings = context.config.cluster;
      if (!settings) return;
      const { engine, logger } = context;
      const drain = new DrainStage(settings.replicated);
      const removeStage = engine.use(drain);
      let self: MemberInfo | undefined;
      let membership: Membership | undefined;
      let ownReport: SaturationReport | undefined;

      /** Every member known, this one first, with its level: what a change lists. */
      const members = (): ClusterChange['members'] => {
        const listed: ClusterChange['members'] = self ? [ownReport ? { ...self, level: ownReport.level } : { ...self }] : [];
        for (const { id, urls, level } of membership?.view() ?? []) listed.push(level ? { id, urls, level } : { id, urls });
        return listed;
      };
      const announce = (event: ClusterEvent, member: MemberInfo): void => {
        const change: ClusterChange = { cluster: settings.name, event, member, members: members() };
        engine.emit('PATCH', [...CLUSTER_RESOURCE], change);
      };
      const refusal = (): DrainRefusal => ({
        reason: 'draining: this instance is saturated, use another member',
        code: ErrorCode.Draining,
        redirect: membership?.serving().flatMap((member) => member.urls) ?? [],
      });
      const view = (): ClusterView => ({
        cluster: settings.name,
        self: { ...(self ?? { id: '', urls: [] }), draining: drain.draining, ...(ownReport ? { level: ownReport.level, report: ownReport } : {}) },
        members: membership?.view() ?? [],
      });

      // This instance's level, from its own reports (sent at once when the level changes).
      let draining = false;
      const unbindReports = engine.bind({ method: 'PATCH', resource: ['gateway', 'saturation'] }, (incoming) => {
        if (incoming.from !== undefined || typeof incoming.body !== 'object' || incoming.body === null) return;
        ownReport = incoming.body as SaturationReport;
        const saturated = settings.drain && ownReport.level === 'critical';
        // Refreshed with each report: the members that serve change too.
        if (saturated) drain.redirect = refusal().redirect;
        if (saturated === draining) return;
        draining = saturated;
        if (!saturated) drain.redirect = undefined;
        if (self) announce(saturated ? 'draining' : 'serving', self);
        const fields = { utilization: ownReport.utilization, limiting: ownReport.limiting };
        if (saturated) logger.warn(fields, 'draining: refusing new balancing links and new replicated requests');
        else logger.info(fields, 'serving again');
      });

      const unbindView = engine.bind({ method: 'GET', resource: [...CLUSTER_RESOURCE] }, (incoming) => {
        const balancing = (incoming.body as { balancing?: unknown } | undefined)?.balancing === true;
        if (balancing && drain.draining) {
          incoming.answer(Status.InvalidHost, refusal());
          // MQTT 5's "use another server": the refused link goes, once it has read why.
          const channel = incoming.from as { close?: (reason?: string) => void } | undefined;
          if (typeof channel?.close === 'function') setTimeout(() => channel.close!('draining'), REFUSED_CLOSE_MS).unref();
          return undefined;
        }
        return view();
      });

      const unbindJoin = engine.bind({ method: 'POST', resource: [...MEMBERS_RESOURCE] }, (incoming) => {
        const body = incoming.body as { cluster?: unknown; member?: unknown } | undefined;
        const member = readMemberInfo(body?.member);
        if (!member) {
          incoming.answer(Status.BadDispatch, { error: 'expected { cluster, member: { id, urls } }', code: ErrorCode.BadValue });
          return undefined;
        }
        if (body?.cluster !== settings.name) {
          incoming.answer(Status.BadDispatch, { error: `this is cluster "${settings.name}", not ${JSON.stringify(body?.cluster)}`, code: ErrorCode.BadValue });
          return undefined;
        }
        membership?.announced(member);
        return view();
      });

      const unbindLeave = engine.bind({ method: 'DELETE', resource: [...MEMBERS_RESOURCE, ':id'] }, (incoming) => {
        const id = String(incoming.params.id);
        return { left: membership?.leaving(id) ?? false };
      });

      void context.ready.then((ports) => {
        self = { id: settings.member ?? `${os.hostname()}:${ports.tcp}`, urls: advertised(context.config, settings, ports) };
        membership = new Membership({
          cluster: settings.name,
          self,
          leaveAfterMs: settings.leaveAfterS * 1000,
          logger: logger.child({ component: 'membership' }),
          onChange: (event, member) => {
            announce(event, member);
            if (drain.draining) drain.redirect = refusal().redirect;
          },
        });
        membership.join(settings.join);
        logger.info({ cluster: settings.name, member: self.id, urls: self.urls, join: settings.join }, 'cluster member started');
      });

      return async () => {
        removeStage();
        unbindReports();
        unbindView();
        unbindJoin();
        unbindLeave();
        await membership?.close();
      };
    },
  };
}
