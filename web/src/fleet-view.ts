/**
 * The fleet panel: every gateway of the fleet (online or not, its saturation level,
 * the services it serves), the devices each one runs, and for each shared device
 * which gateway holds it and which stands by. Shown only when this gateway is in a
 * fleet (its `GET ["fleet"]` answers); live through `PATCH ["fleet", name]`, which
 * the gateway emits when another one joins, goes or changes, and refreshed every 2 s
 * for what this gateway itself says.
 */
import type { Client } from '../../gateway/client.js';
import type { Member } from '../../gateway/fleet/members.js';
import type { LinkState } from '../../gateway/fleet/nats-link.js';
import { h } from './dom.js';
import { formatTime } from './format.js';

const REFRESH_MS = 2_000;
/** PATCHes that come together make one GET. */
const SETTLE_MS = 50;

interface FleetAnswer {
  name: string;
  nats: LinkState;
  members: Member[];
}

const LEVEL_TEXT: Readonly<Record<string, string>> = { ok: 'Saturation ok', warn: 'Saturation warning', critical: 'Saturation critical' };

export class FleetView {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly client: Client, private readonly section: HTMLElement, private readonly summary: HTMLElement, private readonly list: HTMLElement) {}

  start(): void {
    this.client.bind({ method: 'PATCH', resource: ['fleet', ':name'] }, () => this.soon(SETTLE_MS));
    this.client.on('state', ({ state }) => {
      if (state === 'open') void this.refresh();
      else clearTimeout(this.timer);
    });
    if (this.client.state === 'open') void this.refresh();
  }

  private soon(ms: number): void {
    clearTimeout(this.timer);
    if (this.client.state === 'open') this.timer = setTimeout(() => void this.refresh(), ms);
  }

  private async refresh(): Promise<void> {
    clearTimeout(this.timer);
    let fleet: FleetAnswer;
    try {
      fleet = (await this.client.get(['fleet'])).body as FleetAnswer;
    } catch {
      // Not in a fleet (404), or the link dropped: nothing to show, nothing to poll.
      this.section.hidden = true;
      return;
    }
    this.render(fleet);
    this.soon(REFRESH_MS);
  }

  private render(fleet: FleetAnswer): void {
    this.section.hidden = false;
    const online = fleet.members.filter((member) => member.online).length;
    this.summary.replaceChildren(
      `${fleet.name}: ${online} of ${fleet.members.length} gateways online; `,
      fleet.nats.connected ? `NATS ${fleet.nats.server ?? ''}` : 'NATS cluster unreachable',
    );
    this.summary.dataset.connected = String(fleet.nats.connected);
    this.list.replaceChildren(...fleet.members.map((member) => this.member(member, fleet.name)));
  }

  private member(member: Member, self: string): HTMLElement {
    const leases = member.leases ?? [];
    const standing = leases.filter((lease) => lease.standby && !lease.holding);
    return h(
      'li',
      { class: 'member', 'data-member': member.name, 'data-online': String(member.online), 'data-saturation': member.saturation ?? 'unknown' },
      h(
        'header',
        null,
        h('strong', null, member.name),
        member.name === self ? h('span', { class: 'meta' }, ' (this gateway)') : null,
        ' ',
        h('span', { class: 'badge' }, member.online ? 'Online' : `Offline since ${formatTime(member.lastSeen)}`),
        ' ',
        h('span', { class: 'level' }, LEVEL_TEXT[member.saturation ?? ''] ?? 'Saturation not reported'),
      ),
      member.services && member.services.length > 0 ? h('p', { class: 'meta services' }, `Serves ${member.services.join(', ')}`) : null,
      h(
        'ul',
        { class: 'member-devices' },
        ...member.devices.map((device) => {
          const leased = leases.some((lease) => lease.device === device.id && lease.holding);
          return h(
            'li',
            { 'data-device': device.id, 'data-online': String(device.online), 'data-holds': leased ? 'true' : null },
            device.title ?? device.id,
            ' ',
            h('span', { class: 'meta' }, [device.online ? 'online' : 'offline', leased ? 'holds the lease' : null].filter(Boolean).join(', ')),
          );
        }),
        ...standing.map((lease) => h('li', { 'data-standby': lease.device }, lease.device, ' ', h('span', { class: 'meta' }, 'standby'))),
      ),
    );
  }
}
