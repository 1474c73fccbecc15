/**
 * Pulling the cable out (socat stopped) and plugging it back (socat started again on
 * the same paths): the device goes offline and comes back, and a call in flight when
 * the port vanished is answered 502 instead of hanging.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LinkProtocolName } from '../../firmware-sim/robot/protocol.js';
import { robotOnPty, type RobotRig } from './harness.js';

for (const protocol of ['jstp-cbor', 'line'] as LinkProtocolName[]) {
  describe(`unplug and replug (${protocol})`, () => {
    let rig: RobotRig;
    afterEach(async () => rig?.close());

    it('goes offline, fails the pending call with 502, and comes back online', async () => {
      rig = await robotOnPty(protocol);
      // Long command timeout and deadline: only the unplug can end the pending call.
      const { gateway } = await rig.startDriver({ commandTimeoutMs: 60_000 }, 60_000);
      await gateway.waitFor('rover', true);

      rig.robot.setUnresponsive(true);
      const pending = gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 0.5 });
      const offline = gateway.waitFor('rover', false);
      await rig.pty.stop();
      await offline;
      expect((await pending).status).toBe(502);
      expect((await gateway.call('GET', ['devices', 'rover', 'properties', 'battery'])).status).toBe(502);

      rig.robot.setUnresponsive(false);
      const online = gateway.waitFor('rover', true);
      await rig.pty.start();
      await online;
      expect(await gateway.call('POST', ['devices', 'rover', 'actions', 'move'], { distance: 0.5 })).toEqual({ status: 200, body: { etaMs: 2000 } });
      const link = await gateway.call('GET', ['devices', 'rover', 'properties', 'link']);
      expect(link.body).toMatchObject({ portOpens: 2 });
    }, 30_000);
  });
}
