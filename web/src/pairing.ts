/**
 * Pairing the page with a gateway that has security on (docs/spec/security.md,
 * "Pairing"). Without a grant the page shows what the gateway's `anonymous` setting
 * allows, with its controls disabled and the reason on screen, and a code; an owner
 * runs `pasarela pair CODE --can operate ...`, the page fetches its grant, keeps it
 * and starts again, now allowed to operate.
 */
import type { Client } from '../../gateway/client.js';
import { decodeChain } from '../../gateway/security/grant.js';
import type { Dashboard } from './dashboard.js';
import { h } from './dom.js';
import type { PageKeys } from './key-store.js';

const POLL_MS = 2_000;

interface IdentityDocument {
  secured?: boolean;
  id?: string;
  anonymous?: 'none' | 'read' | 'full';
  pairing?: boolean;
  advice?: string;
}

const ANONYMOUS_TEXT: Readonly<Record<string, string>> = {
  none: 'nothing until it is paired',
  read: 'read the devices, not change them',
  full: 'everything',
};

/** Whether a stored grant is for this page and valid now (the gateway checks the rest). */
function usable(grant: string | undefined, id: string): boolean {
  if (grant === undefined) return false;
  try {
    const { grants } = decodeChain(grant);
    if (grants[grants.length - 1]!.claims.audience !== id) return false;
    const expires = Math.min(...grants.map((g) => g.claims.expires ?? Infinity));
    return Date.now() / 1000 < expires;
  } catch {
    return false;
  }
}

export class Pairing {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private code: string | undefined;
  private checked = false;

  constructor(
    private readonly client: Client,
    private readonly dashboard: Dashboard,
    private readonly keys: PageKeys,
    private readonly panel: HTMLElement,
    private readonly gatewayUrl: string,
  ) {}

  start(): void {
    this.client.on('state', ({ state }) => {
      if (state === 'open') void this.check();
    });
    if (this.client.state === 'open') void this.check();
  }

  private async check(): Promise<void> {
    let info: IdentityDocument | undefined;
    try {
      const [answer] = await this.client.get(['gateway', 'identity']).all();
      // No security plugin (a gateway on loopback without a section): nothing to pair.
      if (!answer || answer.status !== 200) return this.paired(undefined);
      info = answer.body as IdentityDocument;
    } catch {
      return;
    }
    if (!info.secured) {
      this.readOnly(info.advice ?? 'This gateway accepts no changes until its owner sets up security.', undefined);
      return;
    }
    if (usable(this.keys.grant, this.keys.identity.id)) {
      if (this.checked) return this.paired(info);
      this.checked = true;
      // The gateway has the last word: a grant it refuses is dropped, and the page pairs again.
      const [answer] = await this.client.get(['devices']).all().catch(() => []);
      const code = (answer?.body as { code?: string } | undefined)?.code;
      if (code === 'PASARELA_BAD_GRANT' || code === 'PASARELA_GRANT_EXPIRED') {
        await this.keys.saveGrant(undefined);
        window.location.reload();
        return;
      }
      return this.paired(info);
    }
    const allows = ANONYMOUS_TEXT[info.anonymous ?? 'none'] ?? 'what its owner set';
    this.readOnly(`This page is not paired with the gateway, so it may only ${allows}.`, info);
    if (info.pairing) await this.askForCode();
  }

  private paired(info: IdentityDocument | undefined): void {
    this.dashboard.setReadOnly(undefined);
    this.panel.hidden = info === undefined;
    document.body.dataset.paired = info === undefined ? 'none' : 'yes';
    if (info) this.panel.replaceChildren(h('p', { class: 'muted' }, 'Paired: this page is ', h('code', null, this.keys.identity.id)));
  }

  private readOnly(reason: string, info: IdentityDocument | undefined): void {
    this.dashboard.setReadOnly(reason);
    document.body.dataset.paired = 'no';
    this.panel.hidden = false;
    const children: (Node | string)[] = [h('p', { class: 'reason' }, reason)];
    if (info?.pairing) {
      children.push(
        h('p', null, 'To pair it, run where the owner\u2019s key is:'),
        h('pre', null, h('code', { class: 'command' }, `pasarela pair ${this.code ?? '…'} --can operate --identity owner.key --url ${this.gatewayUrl}`)),
        h('p', { class: 'muted' }, 'Pairing code ', h('strong', { class: 'code' }, this.code ?? '…'), ' · this page is ', h('code', { class: 'page-id' }, this.keys.identity.id)),
      );
      if (!this.keys.persistent) children.push(h('p', { class: 'muted' }, 'This browser keeps no storage for the page: pairing lasts until it is closed.'));
    }
    this.panel.replaceChildren(...children);
  }

  private async askForCode(): Promise<void> {
    if (this.code === undefined) {
      const [answer] = await this.client.post(['gateway', 'pairing'], { key: this.keys.identity.id }).all().catch(() => []);
      const code = (answer?.body as { code?: string } | undefined)?.code;
      if (answer?.status !== 200 || typeof code !== 'string') return;
      this.code = code;
      void this.check();
      return;
    }
    this.poll();
  }

  private poll(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.fetchGrant();
    }, POLL_MS);
  }

  private async fetchGrant(): Promise<void> {
    if (this.code === undefined || this.client.state !== 'open') return;
    const [answer] = await this.client.get(['gateway', 'pairing', this.code]).all().catch(() => []);
    const body = answer?.body as { state?: string; grant?: string } | undefined;
    if (answer?.status === 404) {
      // Expired: a new code.
      this.code = undefined;
      void this.check();
      return;
    }
    if (body?.state === 'granted' && typeof body.grant === 'string' && usable(body.grant, this.keys.identity.id)) {
      await this.keys.saveGrant(body.grant);
      // A fresh start presents the grant on the first dispatch of a new connection.
      window.location.reload();
      return;
    }
    this.poll();
  }
}
