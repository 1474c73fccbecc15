/**
 * `pasarela/testing`: the driver contract suite, to run against your own driver and
 * its simulator, under vitest or `node --test` (`describeDriverContract`), and the
 * small gateway it runs drivers in (`ContractGateway`), for tests of your own.
 */
export { describeDriverContract, type ContractOptions, type ContractSubject, type DriverHarness } from './driver-contract.js';
export { ContractGateway, type Answered } from './contract-gateway.js';
export type { TestControl, TestFunctions } from './runner.js';
