/**
 * The parts of the limits, one by one: the monitor's counting and once-a-minute log,
 * the connection gate, unfinished input (its timer and the shared budget), the depth
 * check, own hops, the file descriptor arithmetic, and both stages against the stage
 * contract. The same limits against a real gateway over sockets: attacks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../gateway/jstp/engine.js';
import { nestsDeeperThan, dispatchLimits } from '../../gateway/limits/dispatch-limits.js';
import { connectionsThatFit, fileDescriptors, RESERVED_DESCRIPTORS } from '../../gateway/limits/fd-budget.js';
import { LimitMonitor } from '../../gateway/limits/monitor.js';
import { isOwnHop, ownHops, ownHostNames } from '../../gateway/limits/own-hops.js';
import { defaultLimits } from '../../gateway/limits/schema.js';
import { ConnectionGate } from '../../gateway/transports/connection-gate.js';
import { InputBudget, PendingInput } from '../../gateway/transports/pending-input.js';
import { stageContract } from '../support/stage-contract.js';
import { memoryLogger, sleep } from '../transports/helpers.js';

describe('LimitMonitor', () => {
  it('counts every breach and logs one line per limit and peer per minute, with what it left out', () => {
    const { logger, records } = memoryLogger();
    let now = 0;
    const monitor = new LimitMonitor({ logger, now: () => now });
    for (let i = 0; i < 500; i++) monitor.exceeded('maxDepth', '10.0.0.1');
    monitor.exceeded('maxDepth', '10.0.0.2');
    monitor.exceeded('maxHops', '10.0.0.1');
    expect(records.filter((r) => r.msg === 'limit exceeded').map((r) => [r.limit, r.peer])).toEqual([
      ['maxDepth', '10.0.0.1'],
      ['maxDepth', '10.0.0.2'],
      ['maxHops', '10.0.0.1'],
    ]);
    now = 59_999;
    monitor.exceeded('maxDepth', '10.0.0.1');
    expect(records).toHaveLength(3);
    now = 60_001;
    monitor.exceeded('maxDepth', '10.0.0.1');
    expect(records.at(-1)).toMatchObject({ limit: 'maxDepth', peer: '10.0.0.1', suppressed: 500 });
    expect(monitor.stats()).toEqual({ maxDepth: 503, maxHops: 1 });
  });

  it('keeps a bounded memory of whom it logged, however many peers there are', () => {
    const { logger, records } = memoryLogger();
    const monitor = new LimitMonitor({ logger, now: () => 0 });
    for (let i = 0; i < 20_000; i++) monitor.exceeded('maxConnections', `peer-${i}`);
    expect(records).toHaveLength(20_000);
    expect((monitor as unknown as { logged: Map<string, unknown> }).logged.size).toBeLessThanOrEqual(4096);
  });
});

describe('ConnectionGate', () => {
  it('admits up to the total and the per-address limit, and counts what it refused', () => {
    const refused: string[] = [];
    const gate = new ConnectionGate({ maxConnections: 3, maxConnectionsPerAddress: 2, report: { exceeded: (limit) => void refused.push(limit) } });
    expect([gate.admit('a'), gate.admit('a'), gate.admit('a')]).toEqual([true, true, false]);
    expect([gate.admit('b'), gate.admit('c')]).toEqual([true, false]);
    expect(refused).toEqual(['maxConnectionsPerAddress', 'maxConnections']);
    gate.leave('a');
    expect(gate.admit('c')).toBe(true);
    expect([gate.open, gate.refused]).toEqual([3, 2]);
    gate.leave('nobody');
    expect(gate.open).toBe(3);
  });
});

describe('PendingInput and InputBudget', () => {
  it('gives a started dispatch the line timeout, and none once it is whole', async () => {
    const faults: string[] = [];
    const pending = new PendingInput({ timeoutMs: 40, onFault: (limit) => void faults.push(limit) });
    pending.update(10);
    await sleep(20);
    pending.update(0);
    pending.update(5);
    await sleep(25);
    expect(faults).toEqual([]);
    await sleep(40);
    expect(faults).toEqual(['lineTimeoutMs']);
    pending.update(7);
    expect(faults).toHaveLength(1);
  });

  it('keeps the total under the budget by dropping the biggest holder', () => {
    const budget = new InputBudget(100);
    const dropped: string[] = [];
    const holders = ['a', 'b', 'c'].map((name) => new PendingInput({ budget, onFault: (limit) => void dropped.push(`${name}:${limit}`) }));
    holders[0]!.update(60);
    holders[1]!.update(30);
    expect(budget.bytes).toBe(90);
    holders[2]!.update(20);
    expect(dropped).toEqual(['a:maxPendingInputBytes']);
    expect(budget.bytes).toBe(50);
    holders[1]!.close();
    expect(budget.bytes).toBe(20);
  });
});

describe('nestsDeeperThan', () => {
  const nest = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
    return value;
  };

  it('counts containers: a scalar is 0, {} is 1', () => {
    expect(nestsDeeperThan(5, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({}, 1)).toBe(false);
    expect(nestsDeeperThan(nest(16), 16)).toBe(false);
    expect(nestsDeeperThan(nest(17), 16)).toBe(true);
    expect(nestsDeeperThan([1, [2, { a: [3] }]], 3)).toBe(true);
    expect(nestsDeeperThan([1, [2, { a: [3] }]], 4)).toBe(false);
  });

  it('stops at the limit: a value far too deep for the stack costs no more than the limit', () => {
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown;
    expect(nestsDeeperThan(deep, 16)).toBe(true);
  });
});

describe('own hops', () => {
  it('knows the loopback names of a gateway on 127.0.0.1, and every interface of one on 0.0.0.0', () => {
    expect([...ownHostNames('127.0.0.1')].sort()).toEqual(['127.0.0.1', '::1', 'localhost']);
    const wildcard = ownHostNames('0.0.0.0');
    expect(wildcard.has('127.0.0.1')).toBe(true);
    expect(wildcard.size).toBeGreaterThan(3);
    expect(ownHostNames('192.168.1.9').has('localhost')).toBe(false);
  });

  it('recognises a hop by address, port and label', () => {
    const names = ownHostNames('127.0.0.1');
    const ports = { tcp: 4000, http: 8000 };
    expect(isOwnHop(['127.0.0.1', 4000, 'tcp'], names, ports)).toBe(true);
    expect(isOwnHop(['LOCALHOST', 8000, 'ws'], names, ports)).toBe(true);
    expect(isOwnHop(['[::1]', 8000, 'wss'], names, ports)).toBe(true);
    expect(isOwnHop(['127.0.0.1', 8000, 'tcp'], names, ports)).toBe(false);
    expect(isOwnHop(['10.0.0.1', 4000, 'tcp'], names, ports)).toBe(false);
    expect(isOwnHop(['127.0.0.1', 4000, 'mqtt'], names, ports)).toBe(false);
  });

  it('takes every own hop off the front in one pass, and leaves others alone', () => {
    const stage = ownHops('127.0.0.1', () => ({ tcp: 4000, http: 8000 }));
    const me: [string, number, string] = ['127.0.0.1', 4000, 'tcp'];
    const other: [string, number, string] = ['10.0.0.2', 4000, 'tcp'];
    const base = { protocol: ['JSTP', '0.5'], method: 'GET' as const, resource: ['x'], timestamp: 1 };
    const hops = Array.from({ length: 5000 }, () => me);
    expect(stage.inbound!({ ...base, host: [...hops, other, me] }, undefined)).toMatchObject({ host: [other, me] });
    expect(stage.inbound!({ ...base, host: hops }, undefined)).not.toHaveProperty('host');
    const untouched = { ...base, host: [other, me] };
    expect(stage.inbound!(untouched, undefined)).toBe(untouched);
  });
});

describe('file descriptors', () => {
  it('reads the limit and the open count on Linux', () => {
    const descriptors = fileDescriptors();
    expect(descriptors?.limit).toBeGreaterThan(descriptors?.open ?? Infinity);
  });

  it('lowers the connection limit to what the descriptors leave, never below one', () => {
    expect(connectionsThatFit(1000, undefined)).toBe(1000);
    expect(connectionsThatFit(1000, { limit: 100_000, open: 50 })).toBe(1000);
    expect(connectionsThatFit(1000, { limit: 200, open: 40 })).toBe(200 - 40 - RESERVED_DESCRIPTORS);
    expect(connectionsThatFit(1000, { limit: 50, open: 40 })).toBe(1);
  });
});

// The stages pass what is within the limits, as the contract asks of any stage.
stageContract('dispatch limits (within them)', {
  make: () => dispatchLimits({ limits: defaultLimits(), engine: new Engine(), report: { exceeded: () => {} } }),
  outcome: { kind: 'pass' },
});

stageContract('own hops (none named)', {
  make: () => ownHops('127.0.0.1', () => ({ tcp: 1, http: 2 })),
  outcome: { kind: 'pass' },
});
