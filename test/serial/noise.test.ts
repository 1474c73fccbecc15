/**
 * A noisy line (bytes corrupted and dropped by the simulated robot, seeded): bad
 * frames or lines are dropped and counted in the device's `link` property, and the
 * link carries on: once the noise stops, a round trip works on the same port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { robotOnPty, type RobotRig } from './harness.js';

type Counters = Record<string, number>;

function linkValue(body: unknown): Counters {
  return (body as { value: Counters }).value;
}

describe('noise on the line', () => {
  let rig: RobotRig;
  afterEach(async () => rig?.close());

  it('jstp-cbor: corrupted frames are dropped and counted, lost ones too, and the link carries on', async () => {
    rig = await robotOnPty('jstp-cbor');
    const { gateway } = await rig.startDriver();
    await gateway.waitFor('rover', true);
    const counted = gateway.next({ method: 'PATCH', resource: ['devices', 'rover', 'properties', 'link'] }, (body) => {
      const c = linkValue(body);
      return c.framesDropped > 0 && c.framesLost > 0;
    });
    // Answers may be garbled too: start the move first, then make noise while it reports its pose.
    expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 1.5 })).status).toBe(200);
    rig.robot.setNoise({ corrupt: 0.01, drop: 0.005, seed: 7 });
    const counters = linkValue(await counted);
    expect(counters.droppedCrc + counters.droppedCobs).toBeGreaterThan(0);

    rig.robot.setNoise(undefined);
    expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'stop'])).status).toBe(200);
    const answer = await gateway.call('POST', ['devices', 'rover', 'actions', 'rotate'], { angle: 90 });
    expect(answer).toEqual({ status: 200, body: { etaMs: 1000 } });
    const after = await gateway.call('GET', ['devices', 'rover', 'properties', 'link']);
    expect((after.body as Counters).frames).toBeGreaterThan(counters.frames);
    expect((after.body as Counters).portOpens).toBe(1);
  });

  it('jstp-cbor: requests garbled on the way to the robot time out (504), are counted, and the next one works', async () => {
    rig = await robotOnPty('jstp-cbor');
    const { gateway } = await rig.startDriver({ commandTimeoutMs: 300 });
    await gateway.waitFor('rover', true);
    rig.robot.setNoise(undefined, { corrupt: 0.5, seed: 3 });
    expect((await gateway.call('GET', ['devices', 'rover', 'properties', 'link'])).status).toBe(200);
    expect((await gateway.call('PUT', ['devices', 'rover', 'properties', 'speed'], 0.3)).status).toBe(504);
    rig.robot.setNoise(undefined);
    expect(await gateway.call('PUT', ['devices', 'rover', 'properties', 'speed'], 0.3)).toEqual({ status: 200, body: 0.3 });
    const link = await gateway.call('GET', ['devices', 'rover', 'properties', 'link']);
    expect(link.body).toMatchObject({ timeouts: 1 });
  });

  it('line: garbled lines are counted and ignored, and the link carries on', async () => {
    rig = await robotOnPty('line');
    const { gateway } = await rig.startDriver();
    await gateway.waitFor('rover', true);
    const counted = gateway.next({ method: 'PATCH', resource: ['devices', 'rover', 'properties', 'link'] }, (body) => {
      const c = linkValue(body);
      return c.linesIgnored + c.badReplies > 0;
    });
    expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 1.5 })).status).toBe(200);
    rig.robot.setNoise({ corrupt: 0.02, seed: 11 });
    await counted;
    rig.robot.setNoise(undefined);
    expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'stop'])).status).toBe(200);
    expect(await gateway.call('POST', ['devices', 'rover', 'actions', 'rotate'], { angle: -90 })).toEqual({ status: 200, body: { etaMs: 1000 } });
    expect(await gateway.call('GET', ['devices', 'rover', 'properties', 'motors'])).toEqual({ status: 200, body: true });
  });
});
