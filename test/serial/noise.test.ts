/**
 * A noisy line (bytes corrupted and dropped by the simulated robot, seeded): bad
 * frames or lines are dropped and counted in the device's `link` property, and the
 * link carries on: once the noise stops, a round trip works on the same port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { robotOnPty, type RobotRig } from './harness.js';

const FRAME_COUNTERS = ['frames', 'framesDropped', 'framesLost', 'droppedCrc', 'droppedCobs'] as const;
const LINE_COUNTERS = ['linesIgnored', 'badReplies'] as const;

/** The named counters of a `link` property value, checked to be there. */
function counters<Name extends string>(value: unknown, names: readonly Name[]): Record<Name, number> {
  const found = value as Record<string, unknown> | undefined;
  for (const name of names) {
    if (typeof found?.[name] !== 'number') throw new Error(`the link has no counter ${name}: ${JSON.stringify(value)}`);
  }
  return found as Record<Name, number>;
}

/** The counters a PATCH of the `link` property carries. */
function linkValue<Name extends string>(body: unknown, names: readonly Name[]): Record<Name, number> {
  return counters((body as { value?: unknown }).value, names);
}

describe('noise on the line', () => {
  let rig: RobotRig;
  afterEach(async () => rig?.close());

  it('jstp-cbor: corrupted frames are dropped and counted, lost ones too, and the link carries on', async () => {
    rig = await robotOnPty('jstp-cbor');
    const { gateway } = await rig.startDriver();
    await gateway.waitFor('rover', true);
    const counted = gateway.next({ method: 'PATCH', resource: ['devices', 'rover', 'properties', 'link'] }, (body) => {
      const c = linkValue(body, FRAME_COUNTERS);
      return c.framesDropped > 0 && c.framesLost > 0;
    });
    // Answers may be garbled too: start the move first, then make noise while it reports its pose.
    expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 1.5 })).status).toBe(200);
    rig.robot.setNoise({ corrupt: 0.01, drop: 0.005, seed: 7 });
    const during = linkValue(await counted, FRAME_COUNTERS);
    expect(during.droppedCrc + during.droppedCobs).toBeGreaterThan(0);

    rig.robot.setNoise(undefined);
    expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'stop'])).status).toBe(200);
    const answer = await gateway.call('POST', ['devices', 'rover', 'actions', 'rotate'], { angle: 90 });
    expect(answer).toEqual({ status: 200, body: { etaMs: 1000 } });
    const after = await gateway.call('GET', ['devices', 'rover', 'properties', 'link']);
    const now = counters(after.body, ['frames', 'portOpens']);
    expect(now.frames).toBeGreaterThan(during.frames);
    expect(now.portOpens).toBe(1);
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
      const c = linkValue(body, LINE_COUNTERS);
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
