/**
 * The arrows allowed between the project's folders (DESIGN.md, "Layout"), checked by
 * test/architecture/dependencies.test.ts in `npm test`. Paths are relative to the
 * repository root. Tests and benches may import anything and are not cruised.
 */
const PROJECT = '^(gateway|drivers|testing|firmware-sim|demo)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'jstp-imports-nothing-of-the-project',
      comment: 'The protocol engine (gateway/jstp) stands alone: no transports, devices, drivers or simulators.',
      severity: 'error',
      from: { path: '^gateway/jstp/' },
      to: { path: PROJECT, pathNot: '^gateway/jstp/' },
    },
    {
      name: 'drivers-reach-the-gateway-through-jstp-only',
      comment: 'A driver knows its context (drivers/driver.ts) and the protocol (gateway/jstp: errors, codecs, frames), never the rest of the gateway.',
      severity: 'error',
      from: { path: '^drivers/' },
      to: { path: '^gateway/', pathNot: '^gateway/jstp/' },
    },
    {
      name: 'drivers-never-import-each-other',
      comment: 'drivers/<name>/ may use its own files and the shared ones at drivers/*.ts, not another driver.',
      severity: 'error',
      from: { path: '^drivers/([^/]+)/' },
      to: { path: '^drivers/[^/]+/', pathNot: '^drivers/$1/' },
    },
    {
      name: 'simulators-use-jstp-and-the-driver-interface',
      comment: 'Simulated firmware speaks the protocol and describes itself with the Driver types, nothing else of the project.',
      severity: 'error',
      from: { path: '^firmware-sim/' },
      to: { path: '^(gateway|drivers|demo)/', pathNot: ['^gateway/jstp/', '^drivers/driver\\.ts$'] },
    },
    {
      name: 'gateway-and-drivers-never-import-simulators',
      comment: 'Simulators are for tests and the demo; a gateway in the field never loads them.',
      severity: 'error',
      from: { path: '^(gateway|drivers)/' },
      to: { path: '^firmware-sim/' },
    },
    {
      name: 'only-the-command-imports-the-demo',
      comment: 'demo/ wires the simulators for `pasarela --demo`; only gateway/cli/serve.ts loads it.',
      severity: 'error',
      from: { path: '^(gateway|drivers|firmware-sim)/', pathNot: '^gateway/cli/serve\\.ts$' },
      to: { path: '^demo/' },
    },
    {
      name: 'the-command-loads-the-demo-lazily',
      comment: 'A dynamic import, and only with --demo: a gateway without it never loads the simulators.',
      severity: 'error',
      from: { path: '^gateway/cli/serve\\.ts$' },
      to: { path: '^demo/', dynamic: false },
    },
    {
      name: 'gateway-knows-drivers-by-their-interface',
      comment: 'The gateway meets drivers through drivers/driver.ts (and the value checks of its schemas, and the data files both read); only the driver plugins (gateway/plugins/) construct concrete drivers.',
      severity: 'error',
      from: { path: '^gateway/', pathNot: '^gateway/plugins/' },
      to: { path: '^drivers/', pathNot: '^drivers/(driver|value-check|data-file)\\.ts$' },
    },
    {
      name: 'driver-plugins-use-a-drivers-entry',
      comment: "A driver plugin imports a driver's index.ts; the MQTT broker is apart from it so that loading the driver never loads aedes.",
      severity: 'error',
      from: { path: '^gateway/plugins/' },
      to: { path: '^drivers/[^/]+/', pathNot: ['^drivers/[^/]+/index\\.ts$', '^drivers/mqtt/embedded-broker\\.ts$'] },
    },
    {
      name: 'the-contract-suite-is-for-tests',
      comment: 'testing/ (`pasarela/testing`) runs drivers in tests; nothing a gateway runs imports it.',
      severity: 'error',
      from: { path: '^(gateway|drivers|firmware-sim|demo)/' },
      to: { path: '^testing/' },
    },
    {
      name: 'the-contract-suite-knows-drivers-by-their-interface',
      comment: 'The suite runs any driver through drivers/driver.ts and the shared profile helpers: no concrete driver, no simulator.',
      severity: 'error',
      from: { path: '^testing/' },
      to: { path: '^(drivers/[^/]+/|firmware-sim/|demo/)' },
    },
    {
      name: 'no-runtime-cycles',
      comment: 'Modules that load each other (type-only imports vanish at run time, so they may close a cycle).',
      severity: 'error',
      from: { path: PROJECT },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: ['(^|/)node_modules/', '^dist/'] },
  },
};
