/**
 * The uplinks panel: each uplink's state (connected or down, since when, why) and its
 * queue (dispatches and bytes waiting, the oldest one's age, what was sent,
 * acknowledged and dropped). Shown only when the gateway has uplinks (its
 * `GET ["gateway", "uplinks"]` answers); refreshed every 2 s while the page is
 * connected, and at once when a link comes up or goes down.
 */
import type { Client } from '../../gateway/client.js';
import type { UplinkStatus } from '../../gateway/uplinks/uplink.js';
import { h } from './dom.js';
import { formatTime } from './format.js';

const REFRESH_MS = 2_000;

function bytes(count: number): string {
  if (count < 1_000) return `${count} B`;
  if (count < 1_000_000) return `${(count / 1_000).toFixed(1)} kB`;
  return `${(count / 1_000_000).toFixed(1)} MB`;
}

function age(seconds: number | null): string {
  if (seconds === null) return 'nothing waiting';
  if (seconds < 120) return `oldest ${Math.round(seconds)} s`;
  if (seconds < 7_200) return `oldest ${Math.round(seconds / 60)} min`;
  return `oldest ${Math.round(seconds / 3_600)} h`;
}

export class UplinksView {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly client: Client, private readonly section: HTMLElement, private readonly list: HTMLElement) {}

  start(): void {
    this.client.bind({ method: 'PATCH', resource: ['gateway', 'uplinks', ':name'] }, () => void this.refresh());
    this.client.on('state', ({ state }) => {
      if (state === 'open') void this.refresh();
      else clearTimeout(this.timer);
    });
    if (this.client.state === 'open') void this.refresh();
  }

  private async refresh(): Promise<void> {
    clearTimeout(this.timer);
    let uplinks: UplinkStatus[];
    try {
      uplinks = (await this.client.get(['gateway', 'uplinks'])).body as UplinkStatus[];
    } catch {
      // No uplinks here (404), or the link dropped: nothing to show, nothing to poll.
      this.section.hidden = true;
      return;
    }
    this.render(uplinks);
    if (this.client.state === 'open') this.timer = setTimeout(() => void this.refresh(), REFRESH_MS);
  }

  private render(uplinks: readonly UplinkStatus[]): void {
    this.section.hidden = uplinks.length === 0;
    this.list.replaceChildren(
      ...uplinks.map((uplink) => {
        const state = uplink.connected ? `Connected since ${formatTime(uplink.since)}` : `Down since ${formatTime(uplink.since)}`;
        return h(
          'li',
          { class: 'uplink', 'data-uplink': uplink.name, 'data-connected': String(uplink.connected), 'data-level': uplink.level },
          h('header', null, h('strong', null, uplink.name), ' ', h('span', { class: 'badge' }, state)),
          h('p', { class: 'meta' }, uplink.url, !uplink.connected && uplink.lastError ? ` — ${uplink.lastError}` : null),
          h('p', { class: 'queue' }, `${uplink.queued.count} queued (${bytes(uplink.queued.bytes)} of ${bytes(uplink.queued.maxBytes)}), ${age(uplink.oldestAgeS)}`),
          h('p', { class: 'meta' }, `${uplink.sent} sent, ${uplink.acknowledged} acknowledged, ${uplink.dropped.total} dropped`),
        );
      }),
    );
  }
}
