/**
 * A replicated service for bench/balance.ts: a gateway with the saturation and
 * cluster plugins serving `GET ["work"]`, which spends `cpuMs` of CPU (body, default
 * 1) and answers `{ servedBy }`. Started as its own process:
 *
 *   node --import tsx bench/support/work-service.ts CONFIG.json
 *
 * Logs one JSON line `{"msg":"ready","tcp":...,"http":...}` on stdout.
 */
import { dirname, resolve } from 'node:path';
import { clusterPlugin, loadConfig, saturationPlugin, silentLogger, startGateway, type GatewayPlugin } from '../../gateway/index.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: work-service.ts CONFIG\n');
  process.exit(2);
}
const config = await loadConfig(file);
const name = config.cluster?.member ?? `work-${process.pid}`;

const work: GatewayPlugin = {
  name: 'work',
  async start({ engine }) {
    return engine.bind({ method: 'GET', resource: ['work'] }, (incoming) => {
      const cpuMs = Math.min(50, Number((incoming.body as { cpuMs?: unknown } | undefined)?.cpuMs ?? 1) || 1);
      const until = performance.now() + cpuMs;
      while (performance.now() < until) {
        // Spends CPU as a real handler would.
      }
      return { servedBy: name };
    });
  },
};

const gateway = await startGateway(config, { logger: silentLogger(), configDir: dirname(resolve(file)), plugins: [saturationPlugin(), clusterPlugin(), work] });
process.stdout.write(`${JSON.stringify({ msg: 'ready', tcp: gateway.ports.tcp, http: gateway.ports.http })}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void gateway.close().then(() => process.exit(0)));
