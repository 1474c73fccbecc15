/**
 * Where the driver gets a Noble: over given bindings (a simulated radio) through
 * `@abandonware/noble/with-bindings.js`, or noble's default export, which opens the
 * host's HCI socket as it loads. That load throws (EAFNOSUPPORT) on a machine with no
 * Bluetooth adapter, so it happens only when a real adapter is configured, and its
 * failure becomes one clear "no Bluetooth adapter" error. When the HCI socket's native
 * binding was never built (npm skipped its install script, or the compiler was
 * missing), the error says so instead, with the command that builds it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { errors, PasarelaError } from '../../gateway/jstp/errors.js';
import type { Noble, NobleBindings } from './noble-types.js';

// noble is CommonJS with no `exports` map; require keeps each entry point lazy.
const require = createRequire(import.meta.url);

// noble attaches to its bindings for good (it never lets go of them): one Noble per
// bindings object, so a driver started again does not leave a second one listening.
const nobles = new WeakMap<NobleBindings, Noble>();

export function nobleWithBindings(bindings: NobleBindings): Noble {
  let noble = nobles.get(bindings);
  if (!noble) {
    const withBindings = require('@abandonware/noble/with-bindings.js') as (bindings: NobleBindings) => Noble;
    noble = withBindings(bindings);
    nobles.set(bindings, noble);
  }
  return noble;
}

/** The message every "no adapter" report starts with, so logs and answers can be grepped. */
export const NO_ADAPTER = 'no Bluetooth adapter';

/** The message every "binding not built" report starts with. */
export const NO_BINDING = "Bluetooth: noble's HCI socket binding (@abandonware/bluetooth-hci-socket)";

const HCI_SOCKET = '@abandonware/bluetooth-hci-socket';

type BindingProblem = 'unbuilt' | 'absent' | 'foreign';

function bindingProblem(error: unknown): BindingProblem | undefined {
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return undefined;
  if (code === 'MODULE_NOT_FOUND' && message.includes('bluetooth_hci_socket.node')) return 'unbuilt';
  if (code === 'MODULE_NOT_FOUND' && message.includes(`'${HCI_SOCKET}'`)) return 'absent';
  // Built for another Node.js (an upgrade since) or another machine.
  if (code === 'ERR_DLOPEN_FAILED' && message.includes('bluetooth_hci_socket')) return 'foreign';
  return undefined;
}

/**
 * The command that builds the binding where this noble is installed: a global install
 * (`<prefix>/lib/node_modules/pasarela`), or the project whose node_modules holds it.
 * npm 11 runs only the install scripts it is allowed to, and a global install has no
 * package.json to allow them in: hence `--allow-scripts`.
 */
export function bindingFix(nobleDir: string, problem: BindingProblem): string {
  const global = new RegExp(`^(.*)\\${sep}lib\\${sep}node_modules\\${sep}pasarela\\${sep}`).exec(nobleDir);
  const allow = `--allow-scripts=${HCI_SOCKET}`;
  if (global) {
    const prefix = global[1] || sep;
    if (problem !== 'absent') return `npm rebuild -g --prefix ${prefix} ${HCI_SOCKET} ${allow}`;
    let version = '';
    try {
      version = `@${(JSON.parse(readFileSync(join(prefix, 'lib', 'node_modules', 'pasarela', 'package.json'), 'utf8')) as { version: string }).version}`;
    } catch {
      // Without the version, the latest: still one that builds the binding.
    }
    return `npm install -g --prefix ${prefix} pasarela${version} ${allow}`;
  }
  const marker = `${sep}node_modules${sep}`;
  const project = nobleDir.includes(marker) ? nobleDir.slice(0, nobleDir.indexOf(marker)) : nobleDir;
  return `cd ${project} && npm ${problem === 'absent' ? 'install' : `rebuild ${HCI_SOCKET}`}`;
}

function nobleDir(): string {
  try {
    return dirname(require.resolve('@abandonware/noble/package.json'));
  } catch {
    return process.cwd();
  }
}

/** noble on the host's adapter; throws a 502 PasarelaError that says there is no adapter, or no binding. */
export function nobleOnAdapter(load: () => unknown = () => require('@abandonware/noble'), installedAt: () => string = nobleDir): Noble {
  try {
    return load() as Noble;
  } catch (error) {
    const problem = bindingProblem(error);
    if (problem) {
      const what = problem === 'foreign' ? 'was built for another Node.js or machine' : problem === 'absent' ? 'is not installed' : 'is not built';
      throw errors.deviceOffline(`${NO_BINDING} ${what}, so BLE devices stay offline; build it with: ${bindingFix(installedAt(), problem)} (it compiles: needs python3, make and g++)`, { cause: error });
    }
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === 'EAFNOSUPPORT' ? 'this machine has no Bluetooth (EAFNOSUPPORT)' : (error as Error).message;
    throw errors.deviceOffline(`${NO_ADAPTER}: ${detail}`, { cause: error });
  }
}
