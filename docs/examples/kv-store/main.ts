/**
 * The key-value store as a program: a gateway with the saturation and cluster
 * plugins and the store, from a config file of the same shape as `pasarela`'s.
 *
 *   node --import tsx docs/examples/kv-store/main.ts --config docs/examples/kv-store/kv-a.yaml
 *
 * Flags `--tcp` and `--http` override the config's ports (0 picks free ones). Logs
 * JSON lines, one of them `ready` with the bound ports, like `pasarela`.
 */
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { clusterPlugin, loadConfig, saturationPlugin, startGateway } from '../../../gateway/index.js';
import { kvStorePlugin } from './kv-plugin.js';

const { values } = parseArgs({ options: { config: { type: 'string' }, tcp: { type: 'string' }, http: { type: 'string' } } });
if (values.config === undefined) {
  process.stderr.write('usage: main.ts --config FILE [--tcp PORT] [--http PORT]\n');
  process.exit(2);
}
const port = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const config = await loadConfig(values.config, { listen: { tcp: port(values.tcp), http: port(values.http) } });
const logger = pino({ level: config.log.level }, pino.destination({ dest: 1, sync: true }));
const gateway = await startGateway(config, {
  logger,
  configDir: dirname(resolve(values.config)),
  plugins: [saturationPlugin(), clusterPlugin(), kvStorePlugin()],
});
logger.info({ tcp: gateway.ports.tcp, http: gateway.ports.http }, 'ready');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void gateway.close().then(() => process.exit(0));
  });
}
