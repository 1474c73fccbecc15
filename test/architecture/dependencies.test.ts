/**
 * The import rules of .dependency-cruiser.cjs, checked by dependency-cruiser: the
 * project's tree has no violation, and a small tree written here, with one forbidden
 * import per rule beside allowed ones, gets exactly the violations it should.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/pasarela.js';

const run = promisify(execFile);
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const RULES = join(ROOT, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

interface CruiseResult {
  summary: { violations: Violation[]; totalCruised: number };
}

/** Cruises `folders` under `cwd` with the project's rules. */
async function cruise(cwd: string, folders: string[]): Promise<CruiseResult> {
  const args = [DEPCRUISE, '--config', RULES, '--output-type', 'json', ...folders];
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 60_000 }));
  } catch (error) {
    // It exits non-zero when it finds violations; the report is still on stdout.
    stdout = (error as { stdout?: string }).stdout ?? '';
    if (stdout === '') throw error;
  }
  return JSON.parse(stdout) as CruiseResult;
}

const describeViolation = (violation: Violation): string => `${violation.rule.name}: ${violation.from} -> ${violation.to}`;

/** The violations, a cycle named once by its two ends whichever edge it was reported on. */
function described(violations: Violation[]): string[] {
  const lines = violations.map((violation) =>
    violation.rule.name === 'no-runtime-cycles' ? `no-runtime-cycles: ${[violation.from, violation.to].sort().join(' <-> ')}` : describeViolation(violation),
  );
  return [...new Set(lines)].sort();
}

describe('import rules', () => {
  it('hold for the project', async () => {
    const result = await cruise(ROOT, ['gateway', 'drivers', 'testing', 'firmware-sim', 'demo']);
    // Cruising nothing would pass trivially.
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    expect(result.summary.violations.map(describeViolation)).toEqual([]);
  });

  describe('bite', () => {
    let fixture: string | undefined;
    afterAll(async () => {
      if (fixture) await rm(fixture, { recursive: true, force: true });
    });

    /** Files of a tree shaped like the project's, each line an import. */
    const files: Record<string, string[]> = {
      'gateway/jstp/errors.ts': [],
      'gateway/jstp/engine.ts': ["import './errors.js';", "import '../devices/registry.js';"],
      'gateway/devices/registry.ts': [
        "import type {} from '../../drivers/driver.js';",
        "import '../../drivers/value-check.js';",
        "import '../../drivers/serial/link.js';",
        "import '../../firmware-sim/robot/robot.js';",
      ],
      'gateway/gateway.ts': ["import './devices/registry.js';", "import '../demo/plugins.js';"],
      'gateway/cli/serve.ts': ["await import('../../demo/robot-demo.js');", "import '../../demo/plugins.js';"],
      'gateway/plugins/mqtt-plugin.ts': ["import '../../drivers/mqtt/index.js';", "await import('../../drivers/mqtt/embedded-broker.js');", "import '../../drivers/mqtt/driver.js';"],
      'gateway/transports/tcp.ts': [],
      'gateway/http-static.ts': ["import '../testing/driver-contract.js';"],
      'testing/driver-contract.ts': [
        "import type {} from '../drivers/driver.js';",
        "import '../drivers/converters.js';",
        "import '../gateway/devices/registry.js';",
        "import '../drivers/ble/own.js';",
        "import '../firmware-sim/robot/robot.js';",
      ],
      'gateway/loop-a.ts': ["import './loop-b.js';"],
      'gateway/loop-b.ts': ["import './loop-a.js';"],
      'gateway/types-a.ts': ["import './types-b.js';"],
      'gateway/types-b.ts': ["import type {} from './types-a.js';"],
      'drivers/driver.ts': [],
      'drivers/value-check.ts': [],
      'drivers/converters.ts': [],
      'drivers/ble/own.ts': [],
      'drivers/ble/ble-driver.ts': [
        "import './own.js';",
        "import '../driver.js';",
        "import '../converters.js';",
        "import '../../gateway/jstp/errors.js';",
        "import '../../gateway/transports/tcp.js';",
        "import '../serial/link.js';",
      ],
      'drivers/serial/link.ts': [],
      'drivers/mqtt/index.ts': ["import './driver.js';"],
      'drivers/mqtt/driver.ts': [],
      'drivers/mqtt/embedded-broker.ts': [],
      'firmware-sim/robot/robot.ts': ["import '../../gateway/jstp/errors.js';", "import type {} from '../../drivers/driver.js';", "import '../../drivers/serial/link.js';"],
      'demo/plugins.ts': ["import '../firmware-sim/robot/robot.js';", "import '../drivers/ble/ble-driver.js';", "import '../gateway/devices/registry.js';"],
      'demo/robot-demo.ts': [],
    };

    it('each rule reports its forbidden import, and nothing allowed', async () => {
      fixture = await mkdtemp(join(tmpdir(), 'pasarela-depcruise-'));
      const tsconfig = { compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true } };
      await writeFile(join(fixture, 'tsconfig.json'), JSON.stringify(tsconfig));
      for (const [file, lines] of Object.entries(files)) {
        await mkdir(join(fixture, dirname(file)), { recursive: true });
        await writeFile(join(fixture, file), `${lines.join('\n')}\nexport {};\n`);
      }
      const result = await cruise(fixture, ['gateway', 'drivers', 'testing', 'firmware-sim', 'demo']);
      expect(result.summary.totalCruised).toBe(Object.keys(files).length);
      // Every rule of the config is shown to bite: a new rule needs its case here.
      const rules = (createRequire(import.meta.url)(RULES) as { forbidden: { name: string }[] }).forbidden.map((rule) => rule.name);
      expect(new Set(result.summary.violations.map((violation) => violation.rule.name))).toEqual(new Set(rules));
      expect(described(result.summary.violations)).toEqual(
        [
          'jstp-imports-nothing-of-the-project: gateway/jstp/engine.ts -> gateway/devices/registry.ts',
          'drivers-reach-the-gateway-through-jstp-only: drivers/ble/ble-driver.ts -> gateway/transports/tcp.ts',
          'drivers-never-import-each-other: drivers/ble/ble-driver.ts -> drivers/serial/link.ts',
          'simulators-use-jstp-and-the-driver-interface: firmware-sim/robot/robot.ts -> drivers/serial/link.ts',
          'gateway-and-drivers-never-import-simulators: gateway/devices/registry.ts -> firmware-sim/robot/robot.ts',
          'gateway-knows-drivers-by-their-interface: gateway/devices/registry.ts -> drivers/serial/link.ts',
          'only-the-command-imports-the-demo: gateway/gateway.ts -> demo/plugins.ts',
          'the-command-loads-the-demo-lazily: gateway/cli/serve.ts -> demo/plugins.ts',
          'driver-plugins-use-a-drivers-entry: gateway/plugins/mqtt-plugin.ts -> drivers/mqtt/driver.ts',
          'the-contract-suite-is-for-tests: gateway/http-static.ts -> testing/driver-contract.ts',
          'the-contract-suite-knows-drivers-by-their-interface: testing/driver-contract.ts -> drivers/ble/own.ts',
          'the-contract-suite-knows-drivers-by-their-interface: testing/driver-contract.ts -> firmware-sim/robot/robot.ts',
          'no-runtime-cycles: gateway/loop-a.ts <-> gateway/loop-b.ts',
        ].sort(),
      );
    });
  });
});
