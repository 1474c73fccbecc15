/**
 * Who is in the fleet, from heartbeats: each gateway publishes one every
 * `heartbeatMs` (its name, boot, devices and saturation level), and a member silent
 * for `offlineAfterMs` is offline. A gateway that stops cleanly says so at once.
 */
import type { DeviceSummary } from '../devices/registry.js';
import type { LeaseState } from './standby.js';

export interface Heartbeat {
  name: string;
  /** A new value each time the gateway process starts. */
  boot: string;
  at: number;
  online: boolean;
  devices: DeviceSummary[];
  /** `ok`, `warn` or `critical` when the gateway reports its saturation. */
  saturation?: string;
  /** The replicated services it serves. */
  services?: string[];
  /** Its shared devices (standby ones among them), and which of them it runs. */
  leases?: LeaseState[];
}

export interface Member extends Heartbeat {
  /** When this gateway last heard from it (its own clock). */
  lastSeen: number;
}

export type MemberChange = { member: Member; change: 'joined' | 'left' | 'updated' };

export class Members {
  private readonly members = new Map<string, Member>();

  constructor(private readonly offlineAfterMs: number, private readonly now: () => number = Date.now) {}

  /** Takes a heartbeat; says whether the member joined, left or only changed. */
  heard(beat: Heartbeat): MemberChange | undefined {
    const previous = this.members.get(beat.name);
    const member: Member = { ...beat, lastSeen: this.now() };
    this.members.set(beat.name, member);
    if (!beat.online) return previous?.online ? { member, change: 'left' } : undefined;
    if (!previous?.online || previous.boot !== beat.boot) return { member, change: 'joined' };
    const changed =
      previous.saturation !== beat.saturation ||
      JSON.stringify(previous.devices) !== JSON.stringify(beat.devices) ||
      JSON.stringify(previous.leases ?? []) !== JSON.stringify(beat.leases ?? []);
    return changed ? { member, change: 'updated' } : undefined;
  }

  /** Members that fell silent since the last sweep, now marked offline. */
  sweep(): Member[] {
    const now = this.now();
    const gone: Member[] = [];
    for (const member of this.members.values()) {
      if (member.online && now - member.lastSeen > this.offlineAfterMs) {
        member.online = false;
        gone.push(member);
      }
    }
    return gone;
  }

  get(name: string): Member | undefined {
    return this.members.get(name);
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
