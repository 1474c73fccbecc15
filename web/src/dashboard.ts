/**
 * The dashboard: the gateway's devices grouped by driver, kept live by three
 * bindings (property PATCHes, availability PATCHes, event POSTs). The client sends
 * the BINDs again after each reconnection; the page then reloads the device list and
 * values it may have missed while away.
 */
import type { Client, ClientState, Incoming } from '../../gateway/client.js';
import type { DeviceDetails, DeviceSummary, PropertyValue } from '../../gateway/devices/registry.js';
import { DeviceView, describeError, type DeviceApi } from './device-view.js';
import { h } from './dom.js';
import { formatData, formatTime } from './format.js';

export interface DashboardElements {
  /** role=status element whose data-state and text tell the connection state. */
  connection: HTMLElement;
  connectionText: HTMLElement;
  /** Where driver groups go. */
  drivers: HTMLElement;
  /** Shown while there is nothing to list, or the list failed to load. */
  notice: HTMLElement;
  /** The event log (an <ol>), newest first. */
  log: HTMLOListElement;
}

const STATE_TEXT: Readonly<Record<ClientState, string>> = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Gateway unreachable, reconnecting…',
  closed: 'Disconnected',
};

const DRIVER_NAMES: Readonly<Record<string, string>> = {
  ble: 'Bluetooth LE',
  mqtt: 'MQTT',
  serial: 'Serial',
};

/**
 * A first connection on a LAN takes milliseconds: still connecting after this long,
 * the gateway is not answering (a page opened from the offline shell, say).
 */
const FIRST_CONNECT_PATIENCE_MS = 2_000;
const UNREACHABLE_TEXT = 'Gateway unreachable, still trying…';

/** Entries kept in the event log. */
const LOG_LIMIT = 100;

interface DriverGroup {
  readonly section: HTMLElement;
  readonly count: HTMLElement;
  readonly list: HTMLElement;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPropertyValue(value: unknown): value is PropertyValue {
  return isRecord(value) && 'value' in value && typeof value.at === 'number';
}

export class Dashboard {
  private readonly client: Client;
  private readonly ui: DashboardElements;
  private readonly devices = new Map<string, DeviceView>();
  private readonly groups = new Map<string, DriverGroup>();
  /** Ids being fetched after a dispatch named a device the page did not know. */
  private readonly loading = new Set<string>();
  /** Bumped by each refresh, so a slow one that a newer one overtook changes nothing. */
  private generation = 0;
  private readonly api: DeviceApi;
  private readOnly: string | undefined;
  private patience: ReturnType<typeof setTimeout> | undefined;

  constructor(client: Client, ui: DashboardElements) {
    this.client = client;
    this.ui = ui;
    this.api = {
      readProperty: async (id, name) => (await client.get(['devices', id, 'properties', name])).body,
      writeProperty: async (id, name, value) => (await client.put(['devices', id, 'properties', name], value)).body,
      invoke: async (id, name, input) => (await client.post(['devices', id, 'actions', name], input)).body,
    };
  }

  start(): void {
    // Bound before the first connection: the client sends them as soon as it is open,
    // ahead of the GETs of refresh(), so no change falls between a read and a binding.
    this.client.bind({ method: 'PATCH', resource: ['devices', ':id', 'properties', ':name'] }, (incoming) => this.onProperty(incoming));
    this.client.bind({ method: 'PATCH', resource: ['devices', ':id'] }, (incoming) => this.onAvailability(incoming));
    this.client.bind({ method: 'POST', resource: ['devices', ':id', 'events', ':name'] }, (incoming) => this.onEvent(incoming));
    this.client.on('state', ({ state }) => this.onState(state));
    this.onState(this.client.state);
  }

  /** Disables every control, with the reason (the page is not paired); undefined enables them. */
  setReadOnly(reason: string | undefined): void {
    this.readOnly = reason;
    document.body.dataset.readonly = String(reason !== undefined);
    for (const view of this.devices.values()) view.setReadOnly(reason);
  }

  // ---- connection ----------------------------------------------------------------

  private onState(state: ClientState): void {
    this.ui.connection.dataset.state = state;
    this.ui.connectionText.textContent = STATE_TEXT[state];
    clearTimeout(this.patience);
    if (state === 'connecting') {
      this.patience = setTimeout(() => {
        if (this.client.state === 'connecting') this.ui.connectionText.textContent = UNREACHABLE_TEXT;
      }, FIRST_CONNECT_PATIENCE_MS);
    }
    document.body.dataset.link = state;
    for (const view of this.devices.values()) view.setLinkOpen(state === 'open');
    if (state === 'open') void this.refresh();
  }

  /** Loads the device list and every device's description and values. */
  private async refresh(): Promise<void> {
    const generation = ++this.generation;
    let list: DeviceSummary[];
    try {
      // Every registry bound on the gateway answers with its own devices: merge them all.
      const answers = await this.client.get(['devices']).all();
      const ok = answers.filter((answer) => answer.status === 200 && Array.isArray(answer.body));
      if (ok.length === 0) throw Object.assign(new Error('no device list in the answers'), { status: answers[0]?.status, answers });
      const byId = new Map<string, DeviceSummary>();
      for (const answer of ok) for (const summary of answer.body as DeviceSummary[]) byId.set(summary.id, summary);
      list = [...byId.values()];
    } catch (error) {
      if (generation === this.generation && this.client.state === 'open') this.notice(`Could not list the devices: ${describeError(error)}`);
      return;
    }
    if (generation !== this.generation) return;
    const ids = new Set(list.map((summary) => summary.id));
    for (const id of this.devices.keys()) if (!ids.has(id)) this.remove(id);
    await Promise.all(list.map((summary) => this.load(summary.id, generation)));
    if (generation === this.generation) this.notice(list.length === 0 ? 'The gateway has no devices yet.' : undefined);
  }

  private async load(id: string, generation = this.generation): Promise<void> {
    let details: DeviceDetails;
    let values: Record<string, PropertyValue>;
    try {
      [details, values] = await Promise.all([
        this.client.get(['devices', id]).then((answer) => answer.body as DeviceDetails),
        this.client.get(['devices', id, 'properties']).then((answer) => answer.body as Record<string, PropertyValue>),
      ]);
    } catch {
      // Removed meanwhile (404) or the link dropped: the next refresh settles it.
      return;
    }
    if (generation !== this.generation) return;
    let view = this.devices.get(id);
    if (view && view.driver !== details.driver) {
      this.remove(id);
      view = undefined;
    }
    if (view) view.update(details);
    else {
      view = new DeviceView(details, this.api);
      this.devices.set(id, view);
      view.setLinkOpen(this.client.state === 'open');
      view.setReadOnly(this.readOnly);
      this.place(view);
      // A device that came later (a standby's takeover, say) ends "no devices yet".
      this.notice(undefined);
    }
    for (const [name, value] of Object.entries(values ?? {})) if (isPropertyValue(value)) view.setValue(name, value);
    this.countOnline(view.driver);
    void view.readUnobserved();
  }

  /** A dispatch named a device the page does not show: fetch it, once at a time. */
  private discover(id: string): void {
    if (this.loading.has(id) || this.client.state !== 'open') return;
    this.loading.add(id);
    void this.load(id).finally(() => this.loading.delete(id));
  }

  // ---- dispatches from the gateway ----------------------------------------------------

  private onProperty(incoming: Incoming): void {
    const id = String(incoming.params.id);
    const view = this.devices.get(id);
    if (!view) return this.discover(id);
    if (isPropertyValue(incoming.body)) view.setValue(String(incoming.params.name), incoming.body);
  }

  private onAvailability(incoming: Incoming): void {
    const id = String(incoming.params.id);
    const body = isRecord(incoming.body) ? incoming.body : {};
    const view = this.devices.get(id);
    if (body.removed === true) {
      if (view) this.logLine(view.title, 'removed');
      this.remove(id);
      return;
    }
    if (typeof body.online !== 'boolean') return;
    if (!view) return this.discover(id);
    if (view.online !== body.online) this.logLine(view.title, body.online ? 'online' : 'offline');
    view.setOnline(body.online);
    this.countOnline(view.driver);
  }

  private onEvent(incoming: Incoming): void {
    const id = String(incoming.params.id);
    const body = isRecord(incoming.body) ? incoming.body : {};
    const at = typeof body.at === 'number' ? body.at : Date.now();
    const view = this.devices.get(id);
    const name = String(incoming.params.name);
    view?.onEvent(name, body.data);
    this.logLine(view?.title ?? id, name, formatData(body.data), at, `${id}/${name}`);
  }

  // ---- layout ----------------------------------------------------------------------

  private place(view: DeviceView): void {
    const group = this.group(view.driver);
    // Sorted by title, so the page reads the same after every reload.
    const after = Array.from(group.list.children).find((element) => {
      const other = this.devices.get((element as HTMLElement).dataset.device ?? '');
      return other !== undefined && other.title.localeCompare(view.title) > 0;
    });
    group.list.insertBefore(view.element, after ?? null);
  }

  private group(driver: string): DriverGroup {
    let group = this.groups.get(driver);
    if (group) return group;
    const headingId = `driver-${driver.replace(/[^A-Za-z0-9_-]/g, '-')}`;
    const count = h('span', { class: 'count' });
    const list = h('div', { class: 'device-list' });
    const section = h(
      'section',
      { class: 'driver', 'data-driver': driver, 'aria-labelledby': headingId },
      h('h3', { id: headingId }, DRIVER_NAMES[driver] ?? driver, ' ', count),
      list,
    );
    group = { section, count, list };
    this.groups.set(driver, group);
    const after = [...this.groups.keys()].sort().find((name) => name > driver);
    this.ui.drivers.insertBefore(section, after ? this.groups.get(after)!.section : null);
    return group;
  }

  private countOnline(driver: string): void {
    const group = this.groups.get(driver);
    if (!group) return;
    const views = [...this.devices.values()].filter((view) => view.driver === driver);
    group.count.textContent = `${views.filter((view) => view.online).length} of ${views.length} online`;
  }

  private remove(id: string): void {
    const view = this.devices.get(id);
    if (!view) return;
    this.devices.delete(id);
    view.element.remove();
    if (this.devices.size === 0) this.notice('The gateway has no devices yet.');
    const group = this.groups.get(view.driver);
    if (group && group.list.children.length === 0) {
      group.section.remove();
      this.groups.delete(view.driver);
    } else {
      this.countOnline(view.driver);
    }
  }

  private notice(text: string | undefined): void {
    this.ui.notice.hidden = text === undefined;
    this.ui.notice.textContent = text ?? '';
  }

  /**
   * Adds a line to the event log. A run of the same event from the same device (a
   * robot's progress) updates one line with a count instead of flooding the log.
   */
  private logLine(device: string, what: string, detail = '', at = Date.now(), key?: string): void {
    const top = this.ui.log.firstElementChild as HTMLElement | null;
    const time = h('time', { datetime: new Date(at).toISOString() }, formatTime(at));
    const code = detail ? h('code', null, detail) : null;
    if (key !== undefined && top?.dataset.key === key) {
      const count = Number(top.dataset.repeat ?? '1') + 1;
      top.dataset.repeat = String(count);
      top.querySelector('time')!.replaceWith(time);
      top.querySelector('.repeat')!.textContent = `×${count}`;
      const previous = top.querySelector('code');
      if (previous && code) previous.replaceWith(code);
      else if (previous) previous.remove();
      else if (code) top.appendChild(code);
      return;
    }
    const entry = h('li', { 'data-key': key }, time, ' ', h('strong', null, device), ' ', h('span', { class: 'event-name' }, what), h('span', { class: 'repeat' }), code);
    this.ui.log.prepend(entry);
    while (this.ui.log.children.length > LOG_LIMIT) this.ui.log.lastElementChild!.remove();
    this.ui.log.dataset.count = String(this.ui.log.children.length);
  }
}
