/**
 * The plugins of the `drivers:` entries of a config: each module loaded from the
 * config file's folder (module-loader.ts), renamed when the entry says so, and run as
 * a driver plugin with the entry's options and restart policy. A module that cannot
 * be loaded is a config error naming the entry, the module and why.
 */
import type { Driver } from '../../drivers/driver.js';
import { ConfigError, configLocation, formatKey, type Config } from '../config.js';
import type { GatewayPlugin } from '../plugin.js';
import { driverPlugin } from '../plugins/driver-plugin.js';
import { DriverModuleError, loadDriverModule } from './module-loader.js';

/** The driver under another name; everything else is the driver's own. */
function renamed(driver: Driver, name: string): Driver {
  return {
    name,
    ...(driver.version === undefined ? {} : { version: driver.version }),
    start: (context) => driver.start(context),
    stop: () => driver.stop(),
    ...(driver.checkProfile ? { checkProfile: (profile: string, data: unknown) => driver.checkProfile!(profile, data) } : {}),
  };
}

/** Loads every `drivers:` entry; `baseDir` is the config file's folder (the working folder without one). */
export async function externalDriverPlugins(config: Config, baseDir: string): Promise<GatewayPlugin[]> {
  const plugins: GatewayPlugin[] = [];
  const names = new Map<string, number>();
  for (const [index, entry] of config.drivers.entries()) {
    const key = ['drivers', index, 'module'];
    const where = configLocation(config, key) ?? 'config';
    let loaded;
    try {
      loaded = await loadDriverModule(entry.module, baseDir, entry.options ?? {});
    } catch (error) {
      if (!(error instanceof DriverModuleError)) throw error;
      throw new ConfigError(where, [], `config error: ${where}: ${formatKey(key)}: ${error.message}`, { cause: error });
    }
    const driver = entry.name === undefined ? loaded.driver : renamed(loaded.driver, entry.name);
    const earlier = names.get(driver.name);
    if (earlier !== undefined) {
      throw new ConfigError(where, [], `config error: ${where}: drivers[${index}]: driver "${driver.name}" is loaded by drivers[${earlier}] too (give one of them a name:)`);
    }
    names.set(driver.name, index);
    plugins.push(
      driverPlugin(driver, {
        source: loaded.source,
        ...(entry.options === undefined ? {} : { options: entry.options }),
        ...(entry.restart === undefined ? {} : { restart: entry.restart }),
      }),
    );
  }
  return plugins;
}
