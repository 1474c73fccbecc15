/**
 * Action round trips over a real PTY pair in both link protocols: the device comes
 * online with the robot's description, an action answers 200 and its events arrive,
 * a write is confirmed, and refusals keep their status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LinkProtocolName } from '../../firmware-sim/robot/protocol.js';
import { robotOnPty, type RobotRig } from './harness.js';

for (const protocol of ['jstp-cbor', 'line'] as LinkProtocolName[]) {
  describe(`serial robot over a PTY (${protocol})`, () => {
    let rig: RobotRig;
    afterEach(async () => rig?.close());

    it('comes online with the robot description and its values', async () => {
      rig = await robotOnPty(protocol);
      const { gateway } = await rig.startDriver();
      await gateway.waitFor('rover', true);
      const details = await gateway.call('GET', ['devices', 'rover']);
      expect(details.status).toBe(200);
      const body = details.body as { properties: Record<string, unknown>; actions: Record<string, unknown>; events: Record<string, unknown>; model: string };
      expect(body.model).toBe('pasarela-robot');
      expect(Object.keys(body.properties).sort()).toEqual(['battery', 'link', 'motors', 'pose', 'speed', 'state']);
      expect(Object.keys(body.actions).sort()).toEqual(['move', 'rotate', 'stop']);
      expect(Object.keys(body.events).sort()).toEqual(['bumper', 'done', 'lowBattery', 'progress']);
      expect(await gateway.call('GET', ['devices', 'rover', 'properties', 'battery'])).toEqual({ status: 200, body: 80 });
      expect(await gateway.call('GET', ['devices', 'rover', 'properties', 'pose'])).toEqual({ status: 200, body: { x: 0, y: 0, heading: 0 } });
    });

    it('runs move: 200 with its eta, progress events, then done and the new pose', async () => {
      rig = await robotOnPty(protocol);
      const { gateway } = await rig.startDriver();
      await gateway.waitFor('rover', true);
      const progress: unknown[] = [];
      const unbind = gateway.engine.bind({ method: 'POST', resource: ['devices', 'rover', 'events', 'progress'] }, (incoming) => {
        progress.push((incoming.body as { data: unknown }).data);
      });
      const done = gateway.next({ method: 'POST', resource: ['devices', 'rover', 'events', 'done'] });
      const answer = await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 0.5 });
      expect(answer).toEqual({ status: 200, body: { etaMs: 2000 } });
      expect(await done).toMatchObject({ data: { action: 'move', completed: true } });
      unbind();
      expect(progress).toEqual([
        { action: 'move', done: 0.25 },
        { action: 'move', done: 0.5 },
        { action: 'move', done: 0.75 },
      ]);
      const pose = await gateway.call('GET', ['devices', 'rover', 'properties', 'pose']);
      expect(pose.body).toEqual({ x: 0.5, y: 0, heading: 0 });
    });

    it('stop interrupts a move, and a move while moving is refused with 403', async () => {
      rig = await robotOnPty(protocol, { timeScale: 1 });
      const { gateway } = await rig.startDriver();
      await gateway.waitFor('rover', true);
      const done = gateway.next({ method: 'POST', resource: ['devices', 'rover', 'events', 'done'] });
      expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 5 })).status).toBe(200);
      expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 1 })).status).toBe(403);
      expect(await gateway.call('POST', ['devices', 'rover', 'actions', 'stop'])).toEqual({ status: 200, body: { interrupted: true } });
      expect(await done).toMatchObject({ data: { action: 'move', completed: false, reason: 'stopped' } });
    });

    it('writes speed (confirmed by the robot) and refuses a move with the motors off', async () => {
      rig = await robotOnPty(protocol);
      const { gateway } = await rig.startDriver();
      await gateway.waitFor('rover', true);
      expect(await gateway.call('PUT', ['devices', 'rover', 'properties', 'speed'], 0.5)).toEqual({ status: 200, body: 0.5 });
      expect(rig.robot.model.values.speed).toBe(0.5);
      expect(await gateway.call('PUT', ['devices', 'rover', 'properties', 'motors'], false)).toEqual({ status: 200, body: false });
      expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 1 })).status).toBe(403);
      expect((await gateway.call('PUT', ['devices', 'rover', 'properties', 'battery'], 5)).status).toBe(403);
    });

    it('hits the wall: bumper event, the move ends early', async () => {
      rig = await robotOnPty(protocol, { timeScale: 100 });
      const { gateway } = await rig.startDriver();
      await gateway.waitFor('rover', true);
      await gateway.call('PUT', ['devices', 'rover', 'properties', 'speed'], 1);
      const bumper = gateway.next({ method: 'POST', resource: ['devices', 'rover', 'events', 'bumper'] });
      const done = gateway.next({ method: 'POST', resource: ['devices', 'rover', 'events', 'done'] });
      expect((await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 10 })).status).toBe(200);
      expect(await bumper).toMatchObject({ data: { x: 1.9, y: 0 } });
      expect(await done).toMatchObject({ data: { completed: false, reason: 'bumper' } });
    });

    it('reports low battery', async () => {
      rig = await robotOnPty(protocol, { battery: 15.5, drainPerMetre: 2, timeScale: 100 });
      const { gateway } = await rig.startDriver();
      await gateway.waitFor('rover', true);
      const low = gateway.next({ method: 'POST', resource: ['devices', 'rover', 'events', 'lowBattery'] });
      await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 1 });
      expect(await low).toMatchObject({ data: { battery: 14 } });
    });
  });
}
