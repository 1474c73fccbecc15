/**
 * Brewing end to end, as a user does: the gateway (engine, TCP, the BLE driver behind
 * the device registry) and a JSTP client on a real socket. The client binds to the
 * state PATCHes, POSTs the brew, gets ANSWER 200 and watches heating -> brewing -> ready.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Client, type Incoming } from '../../gateway/client.js';
import { parseConfig } from '../../gateway/config.js';
import { driverPlugin } from '../../gateway/plugins/driver-plugin.js';
import { startGateway, type Gateway } from '../../gateway/gateway.js';
import { createBleDriver } from '../../drivers/ble/index.js';
import { createSimulatedCoffeeMaker, type SimulatedCoffeeMaker } from '../../firmware-sim/coffee-maker/index.js';
import { COFFEE, FAST } from './helpers.js';

let gateway: Gateway | undefined;
let client: Client | undefined;
let coffee: SimulatedCoffeeMaker | undefined;

afterEach(async () => {
  await client?.close();
  await gateway?.close();
  coffee?.stop();
  client = gateway = coffee = undefined;
});

/** Collects bodies of the dispatches a client binding receives, with a way to wait for one. */
function collect(target: Client, resource: string[], method: 'PATCH' | 'POST') {
  const bodies: unknown[] = [];
  let wake: (() => void) | undefined;
  const unbind = target.bind({ method, resource }, (incoming: Incoming) => {
    bodies.push(incoming.body);
    wake?.();
  });
  return {
    bodies,
    unbind,
    async until(accept: (body: unknown) => boolean): Promise<unknown> {
      for (;;) {
        const found = bodies.find(accept);
        if (found !== undefined) return found;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

describe('brew from a JSTP client', () => {
  it('ANSWER 200, then state PATCHes heating -> brewing -> ready, and the ready event', async () => {
    coffee = createSimulatedCoffeeMaker({ speed: 20 });
    const config = parseConfig({ listen: { host: '127.0.0.1', tcp: 0, http: 0 }, log: { level: 'silent' }, devices: [COFFEE] }, 'test');
    gateway = await startGateway(config, { plugins: [driverPlugin(createBleDriver({ bindings: coffee.radio, ...FAST }))] });
    client = connect(`tcp://127.0.0.1:${gateway.ports.tcp}`, { answerTimeoutMs: 10_000 });
    await client.ready();

    const availability = collect(client, ['devices', 'coffee'], 'PATCH');
    const states = collect(client, ['devices', 'coffee', 'properties', 'state'], 'PATCH');
    const ready = collect(client, ['devices', 'coffee', 'events', 'ready'], 'POST');
    // The BINDs are in place once any request has been answered after them.
    const listed = await client.get(['devices', 'coffee']);
    if (!(listed.body as { online: boolean }).online) await availability.until((body) => (body as { online: boolean }).online);

    // The initial values (state idle) may arrive once it is online: watch from the POST on.
    const from = states.bodies.length;
    const answer = await client.post(['devices', 'coffee', 'actions', 'brew'], { size: 'large' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ state: 'heating' });
    await ready.until(() => true);
    await states.until((body) => (body as { value: string }).value === 'ready');
    expect(states.bodies.slice(from).map((body) => (body as { value: string }).value)).toEqual(['heating', 'brewing', 'ready']);
    for (const body of states.bodies) expect(body).toEqual({ value: expect.any(String), at: expect.any(Number) });

    const gatewayInfo = await client.get(['gateway']);
    expect(gatewayInfo.body).toMatchObject({ drivers: ['ble'] });
    const cups = await client.get(['devices', 'coffee', 'properties', 'cupsBrewed']);
    expect(cups.body).toBe(1);
  });
});
