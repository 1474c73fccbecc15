/**
 * Instances of one service find each other (real `pasarela` processes): the one that
 * joins is listed with its last report, members learn of each other through the one
 * they joined, `PATCH ["cluster"]` tells subscribers of joins and leaves (a clean
 * stop at once, a kill after `leaveAfterS`), and another cluster's instance is refused.
 */
import { describe, expect, it } from 'vitest';
import { connect, type Client } from '../../gateway/client.js';
import type { ClusterChange, ClusterView } from '../../gateway/cluster/protocol.js';
import { cleanupsAfterEach } from '../support/cleanups.js';
import { eventually, until } from '../support/until.js';
import { instances, onlyCounting, type Instance } from './instances.js';

const { start } = instances();
const cleanups = cleanupsAfterEach();

function member(name: string, join: Instance[] = [], cluster = 'svc'): Record<string, unknown> {
  return {
    saturation: { periodS: 1, thresholds: onlyCounting('disk') },
    cluster: { name: cluster, member: name, join: join.map((instance) => instance.url), leaveAfterS: 2 },
  };
}

async function client(instance: Instance): Promise<Client> {
  const opened = connect(instance.url, { reconnect: false });
  cleanups.push(() => opened.close());
  await opened.ready();
  return opened;
}

async function view(of: Client): Promise<ClusterView> {
  return (await of.get(['cluster'])).body as ClusterView;
}

describe('a cluster of instances', () => {
  it('lists members with their last reports, and tells subscribers of joins and leaves', async () => {
    const a = await start(member('a'));
    const watcher = await client(a);
    const changes: ClusterChange[] = [];
    watcher.bind({ method: 'PATCH', resource: ['cluster'] }, (incoming) => {
      changes.push(incoming.body as ClusterChange);
    });

    const b = await start(member('b', [a]));
    await until(() => changes.some((change) => change.event === 'joined' && change.member.id === 'b'), 'b joined', 15_000);
    expect(changes.find((change) => change.member.id === 'b')!.member.urls).toEqual([b.url, b.wsUrl]);
    // Its last report comes with it once a period has gone by.
    const seen = (await eventually(() => view(watcher), (got) => got?.members.find((m) => m.id === 'b')?.report !== undefined, 'b listed with a report'))!;
    expect(seen.cluster).toBe('svc');
    expect(seen.self).toMatchObject({ id: 'a', urls: [a.url, a.wsUrl], draining: false });
    expect(seen.members.find((m) => m.id === 'b')).toMatchObject({ linked: true, level: 'ok', report: expect.objectContaining({ periodS: 1 }) });

    // c joins b only, and a learns of it all the same.
    const c = await start(member('c', [b]));
    await until(() => changes.some((change) => change.event === 'joined' && change.member.id === 'c'), 'a to learn of c', 15_000);
    const fromC = await view(await client(c));
    expect(fromC.members.map((m) => m.id).sort()).toEqual(['a', 'b']);

    // A clean stop says goodbye at once; a killed member is gone after leaveAfterS.
    const stopped = Date.now();
    c.run.kill('SIGTERM');
    await until(() => changes.some((change) => change.event === 'left' && change.member.id === 'c'), 'c left', 10_000);
    expect(Date.now() - stopped).toBeLessThan(2_000 + 1_500);
    b.run.kill('SIGKILL');
    await until(() => changes.some((change) => change.event === 'left' && change.member.id === 'b'), 'b gone', 20_000);
    const last = changes.at(-1)!;
    expect(last.members.map((m) => m.id)).toEqual(['a']);
    expect((await view(watcher)).members).toEqual([]);
  });

  it('refuses an instance of another cluster, which says so', async () => {
    const a = await start(member('a'));
    const stranger = await start(member('x', [a], 'other'));
    await until(() => stranger.logs('a member refused this instance').length > 0, 'the refusal logged', 15_000);
    expect(stranger.logs('a member refused this instance')[0]).toMatchObject({ status: 400 });
    expect((await view(await client(a))).members).toEqual([]);
  });

  it('answers garbage announcements with 400, ignores garbage reports and changes, and keeps serving', async () => {
    const a = await start(member('a'));
    const raw = await client(a);
    for (const body of ['junk', { cluster: 'svc' }, { cluster: 'svc', member: { id: 5, urls: [] } }, { cluster: 'svc', member: { id: 'm', urls: ['http://not-a-member'] } }]) {
      await expect(raw.post(['cluster', 'members'], body)).rejects.toMatchObject({ status: 400 });
    }
    expect((await raw.delete(['cluster', 'members', 'nobody'])).body).toEqual({ left: false });
    const balanced = connect({ urls: [a.url] });
    cleanups.push(() => balanced.close());
    await balanced.ready();
    await until(() => balanced.members()[0]?.utilization !== undefined, 'a report', 10_000);
    // Any peer may PATCH these resources: what is not a report or a change is dropped by the readers.
    raw.emit('PATCH', ['gateway', 'saturation'], { seq: 'x', level: 'on fire' });
    raw.emit('PATCH', ['gateway', 'saturation'], 'junk');
    raw.emit('PATCH', ['cluster'], { event: 'joined', member: { id: 'ghost' } });
    raw.emit('PATCH', ['cluster'], [1, 2, 3]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(balanced.members().map((m) => [m.id, m.state])).toEqual([['a', 'ready']]);
    expect((await balanced.get(['cluster'])).body).toMatchObject({ self: { id: 'a' }, members: [] });
  });

  it('checks the cluster section of a config', async () => {
    await expect(start({ cluster: { name: 'svc', join: ['http://x:1'] } })).rejects.toThrow(/cluster\.join\[0\]: expected a member URL/);
    await expect(start({ cluster: { name: 'svc', replicated: [['a', '...', '...']] } })).rejects.toThrow(/cluster\.replicated\[0\]: expected a JSTP resource pattern/);
    await expect(start({ cluster: { join: [] } })).rejects.toThrow(/cluster\.name: expected string/);
  });
});
