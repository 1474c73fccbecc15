/**
 * The page's own identity, kept in the browser (IndexedDB): its two secret keys, the
 * grant it was paired with, and the next free sequence number. Sequence ranges are
 * reserved in an IndexedDB transaction, so two tabs of one browser never sign with
 * the same numbers; the page takes two ranges ahead, because signing cannot wait.
 */
import { createIdentity, type Identity } from '../../gateway/security/identity.js';
import { SEQUENCE_BLOCK, type SequenceStore } from '../../gateway/security/sequence.js';
import type { SignatureSuite } from '../../gateway/security/suite.js';

const DB = 'pasarela-dashboard';
const STORE = 'keys';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

function open(): Promise<IDBDatabase> {
  const opening = indexedDB.open(DB, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
  return request(opening);
}

async function withStore<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => Promise<T>): Promise<T> {
  const db = await open();
  try {
    const transaction = db.transaction(STORE, mode);
    const done = new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
    });
    const result = await work(transaction.objectStore(STORE));
    await done;
    return result;
  } finally {
    db.close();
  }
}

export interface PageKeys {
  readonly identity: Identity;
  grant: string | undefined;
  readonly sequence: SequenceStore;
  /** False when IndexedDB is not there: the key lasts as long as the page. */
  readonly persistent: boolean;
  saveGrant(grant: string | undefined): Promise<void>;
}

export async function loadPageKeys(suite: SignatureSuite): Promise<PageKeys> {
  try {
    const stored = await withStore('readwrite', async (store) => {
      let secrets = (await request(store.get('secrets'))) as { signing: Uint8Array; agreement: Uint8Array } | undefined;
      if (!secrets) {
        const made = createIdentity(suite);
        secrets = made.secrets;
        await request(store.put(secrets, 'secrets'));
      }
      const grant = (await request(store.get('grant'))) as string | undefined;
      return { secrets, grant };
    });
    const ranges: number[] = [];
    const reserve = (): Promise<void> =>
      withStore('readwrite', async (store) => {
        const next = ((await request(store.get('sequence'))) as number | undefined) ?? 0;
        await request(store.put(next + SEQUENCE_BLOCK, 'sequence'));
        ranges.push(next);
      });
    await reserve();
    await reserve();
    const keys: PageKeys = {
      identity: createIdentity(suite, stored.secrets),
      grant: stored.grant,
      persistent: true,
      sequence: {
        reserve() {
          const first = ranges.shift();
          void reserve().catch(() => undefined);
          if (first === undefined) throw new Error('no sequence range reserved yet');
          return first;
        },
      },
      async saveGrant(grant) {
        keys.grant = grant;
        await withStore('readwrite', async (store) => {
          if (grant === undefined) await request(store.delete('grant'));
          else await request(store.put(grant, 'grant'));
        });
      },
    };
    return keys;
  } catch {
    // No IndexedDB (a private window in some browsers): a key for this page view only.
    let next = 0;
    const keys: PageKeys = {
      identity: createIdentity(suite),
      grant: undefined,
      persistent: false,
      sequence: {
        reserve() {
          const first = next;
          next += SEQUENCE_BLOCK;
          return first;
        },
      },
      saveGrant(grant) {
        keys.grant = grant;
        return Promise.resolve();
      },
    };
    return keys;
  }
}
