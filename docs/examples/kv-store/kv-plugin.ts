/**
 * A replicated key-value store as a gateway plugin: every instance serves
 * `["kv", key]` from files in its data folder (the folder whose disk the saturation
 * plugin reports) and copies each write to the other members of its cluster.
 *
 * - `PUT ["kv", key]` body: the value (any JSON) -> `{ version, servedBy }`
 * - `GET ["kv", key]` -> `{ value, version, servedBy }`, 404 when there is none. With the body
 *   `{ after: version, waitMs }` it waits (at most `waitMs`, up to 30 s) for a version
 *   newer than `after`: a blocking query, as etcd's watch or Consul's.
 * - `DELETE ["kv", key]` -> `{ deleted }`
 * - `GET ["kv"]` -> the keys
 *
 * `servedBy` names the member that answered (`cluster.member`), to see the balancing.
 *
 * Replication is the simplest that works for an example: the instance that takes a
 * write sends it to the members `GET ["cluster"]` lists, with the header
 * `kv-replica` carrying its version, and does not wait for them. A member that was
 * draining (its disk full) refuses those copies and misses the writes made
 * meanwhile; a real store would catch up from the others once it serves again.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type Client } from '../../../gateway/client.js';
import { errors, Status, type Engine, type GatewayPlugin, type Incoming, type Logger, type MemberView } from '../../../gateway/index.js';

const MAX_WAIT_MS = 30_000;
const MAX_KEY_LENGTH = 200;
const REPLICA_HEADER = 'kv-replica';

interface Entry {
  version: number;
  waiters: Set<() => void>;
}

function keyOf(incoming: Incoming): string {
  const key = String(incoming.params.key);
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw errors.badValue(`a key is 1 to ${MAX_KEY_LENGTH} characters`);
  return key;
}

/** The version a write from another member carries; undefined for a client's write. */
function replicaVersion(incoming: Incoming): number | undefined {
  const version = incoming.dispatch[REPLICA_HEADER];
  return typeof version === 'number' && Number.isSafeInteger(version) && version > 0 ? version : undefined;
}

/** Sends each write on to the other members, over one client per member. */
class Replicator {
  private readonly clients = new Map<string, Client>();
  constructor(private readonly engine: Engine, private readonly logger: Logger) {}

  async copy(method: 'PUT' | 'DELETE', key: string, body: unknown, version: number): Promise<void> {
    let members: MemberView[];
    try {
      const view = (await this.engine.get(['cluster'])).body as { members?: MemberView[] };
      members = (view.members ?? []).filter((member) => member.linked);
    } catch {
      return; // no cluster: nothing to copy to
    }
    for (const member of members) {
      const url = member.urls.find((candidate) => candidate.startsWith('tcp:'));
      if (!url) continue;
      let client = this.clients.get(url);
      if (!client) this.clients.set(url, (client = connect(url, { reconnect: { initialMs: 250, maxMs: 5_000 } })));
      const copy = client;
      // A new client is still connecting: the first copy waits for it (a closed one fails at once).
      void copy
        .ready()
        .then(() => copy.request(method, ['kv', key], body, { headers: { [REPLICA_HEADER]: version } }))
        .catch((error: unknown) => this.logger.debug({ member: member.id, key, err: error }, 'a replica missed a write'));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.close()));
  }
}

export function kvStorePlugin(): GatewayPlugin {
  return {
    name: 'kv-store',
    async start({ engine, config, configDir, logger }) {
      const dir = join(resolve(configDir ?? process.cwd(), config.saturation.dataDir), 'kv');
      await mkdir(dir, { recursive: true });
      const replicator = new Replicator(engine, logger);
      const servedBy = config.cluster?.member ?? hostname();
      const entries = new Map<string, Entry>();
      const entry = (key: string): Entry => {
        let found = entries.get(key);
        if (!found) entries.set(key, (found = { version: 0, waiters: new Set() }));
        return found;
      };
      const file = (key: string) => join(dir, encodeURIComponent(key));
      const read = async (key: string): Promise<unknown> => {
        try {
          return JSON.parse(await readFile(file(key), 'utf8')) as unknown;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        }
      };
      const changed = (key: string, version: number | undefined): number => {
        const current = entry(key);
        current.version = Math.max(current.version + 1, version ?? 0);
        for (const wake of [...current.waiters]) wake();
        return current.version;
      };
      let writes = 0;

      const unbinds = [
        engine.bind({ method: 'PUT', resource: ['kv', ':key'] }, async (incoming) => {
          const key = keyOf(incoming);
          const temporary = `${file(key)}.${process.pid}.${++writes}.tmp`;
          try {
            // Written whole, then renamed: a reader never sees half a value.
            await writeFile(temporary, JSON.stringify(incoming.body ?? null));
            await rename(temporary, file(key));
          } catch (error) {
            await rm(temporary, { force: true });
            // A full disk is what the saturation report warns of before it happens.
            throw (error as NodeJS.ErrnoException).code === 'ENOSPC' ? new Error(`no space left on the disk for "${key}"`) : error;
          }
          const replica = replicaVersion(incoming);
          const version = changed(key, replica);
          if (replica === undefined) void replicator.copy('PUT', key, incoming.body ?? null, version);
          return { version, servedBy };
        }),
        engine.bind({ method: 'GET', resource: ['kv', ':key'] }, async (incoming) => {
          const key = keyOf(incoming);
          const query = (incoming.body ?? {}) as { after?: unknown; waitMs?: unknown };
          const current = entry(key);
          if (typeof query.after === 'number' && current.version <= query.after) {
            const waitMs = Math.min(MAX_WAIT_MS, typeof query.waitMs === 'number' && query.waitMs > 0 ? query.waitMs : MAX_WAIT_MS);
            await new Promise<void>((wake) => {
              const done = (): void => {
                clearTimeout(timer);
                current.waiters.delete(done);
                wake();
              };
              const timer = setTimeout(done, waitMs);
              current.waiters.add(done);
            });
          }
          const value = await read(key);
          if (value === undefined) {
            incoming.answer(Status.NotFound, { error: `no key "${key}"` });
            return undefined;
          }
          return { value, version: current.version, servedBy };
        }),
        engine.bind({ method: 'DELETE', resource: ['kv', ':key'] }, async (incoming) => {
          const key = keyOf(incoming);
          const existed = (await read(key)) !== undefined;
          await rm(file(key), { force: true });
          const replica = replicaVersion(incoming);
          const version = changed(key, replica);
          if (replica === undefined) void replicator.copy('DELETE', key, undefined, version);
          return { deleted: existed };
        }),
        engine.bind({ method: 'GET', resource: ['kv'] }, async () =>
          (await readdir(dir)).filter((name) => !name.endsWith('.tmp')).map((name) => decodeURIComponent(name)),
        ),
      ];
      logger.info({ dir }, 'key-value store serving ["kv", key]');
      return async () => {
        for (const unbind of unbinds) unbind();
        for (const current of entries.values()) for (const wake of [...current.waiters]) wake();
        await replicator.close();
      };
    },
  };
}
