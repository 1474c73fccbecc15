/**
 * One device's card, built from its description: properties with live values (and a
 * sparkline when numeric), controls for writable properties, a form per action, and
 * the special panels keyed on what a device offers (a coffee maker's brew, a robot's
 * drive pad).
 */
import type { ActionSpec, PropertySpec } from '../../drivers/driver.js';
import type { DeviceDetails, PropertyValue } from '../../gateway/devices/registry.js';
import { h, humanize, uid } from './dom.js';
import { formatValue } from './format.js';
import { createField, createInputFields, isNumeric, OMIT, type Field } from './forms.js';
import { Sparkline } from './sparkline.js';

/** What a card asks of the gateway; each call resolves with the answer's body. */
export interface DeviceApi {
  readProperty(device: string, name: string): Promise<unknown>;
  writeProperty(device: string, name: string, value: unknown): Promise<unknown>;
  invoke(device: string, action: string, input: unknown): Promise<unknown>;
}

interface PropertyRow {
  readonly spec: PropertySpec;
  readonly value: HTMLElement;
  readonly spark: Sparkline | undefined;
  readonly field: Field | undefined;
  /** The user typed in the field: live values no longer overwrite it. */
  dirty: boolean;
}

/** A panel that reacts to property values (the coffee maker's brew steps). */
interface Panel {
  readonly element: HTMLElement;
  /** Actions the panel offers, so no generic form repeats them. */
  readonly actions: readonly string[];
  onValue?(name: string, value: unknown): void;
  onEvent?(name: string, data: unknown): void;
}

/** The text of a failed request: the gateway's reason and status when it gave them. */
export function describeError(error: unknown): string {
  const failure = error as { status?: number; message?: string; answers?: { body?: unknown }[] } | undefined;
  const body = failure?.answers?.[0]?.body as { error?: unknown } | undefined;
  const reason = typeof body?.error === 'string' ? body.error : failure?.message ?? String(error);
  return failure?.status ? `${reason} (${failure.status})` : reason;
}

/** An answer's body as the user reads it: `Done (state: heating)`. */
function summarize(result: unknown): string {
  if (result === undefined || result === null) return 'Done.';
  if (typeof result === 'object' && !Array.isArray(result)) {
    const entries = Object.entries(result as Record<string, unknown>).map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    return entries.length > 0 ? `Done (${entries.join(', ')}).` : 'Done.';
  }
  return `Done: ${formatValue(result)}.`;
}

export class DeviceView {
  readonly id: string;
  readonly element: HTMLElement;
  private details: DeviceDetails;
  private readonly api: DeviceApi;
  private readonly rows = new Map<string, PropertyRow>();
  private readonly values = new Map<string, PropertyValue>();
  private panels: Panel[] = [];
  private readonly badge: HTMLElement;
  private readonly body: HTMLElement;
  private linkOpen = false;
  /** Why the controls may not be used (the page is not paired), or undefined. */
  private readOnly: string | undefined;
  private reading: Promise<void> | undefined;
  /** Forms waiting for an answer keep their buttons disabled. */
  private readonly busy = new Set<HTMLFormElement>();

  constructor(details: DeviceDetails, api: DeviceApi) {
    this.id = details.id;
    this.details = details;
    this.api = api;
    const titleId = uid(`device-${details.id}`);
    this.badge = h('span', { class: 'badge' });
    this.body = h('div', { class: 'device-body' });
    this.element = h(
      'article',
      { class: 'device', 'data-device': details.id, 'aria-labelledby': titleId },
      h(
        'header',
        null,
        h('h4', { id: titleId }, details.title ?? details.id),
        h('p', { class: 'meta' }, this.badge, ' ', h('code', null, details.id), details.model ? ` · ${details.model}` : null),
      ),
      this.body,
    );
    this.render();
  }

  get title(): string {
    return this.details.title ?? this.details.id;
  }

  get driver(): string {
    return this.details.driver;
  }

  get online(): boolean {
    return this.details.online;
  }

  /** A fresh description: rebuilt only when what it declares changed, so controls keep their input. */
  update(details: DeviceDetails): void {
    const before = JSON.stringify({ ...this.details, online: null });
    const after = JSON.stringify({ ...details, online: null });
    this.details = details;
    if (before !== after) {
      this.element.querySelector('h4')!.textContent = this.title;
      this.render();
    } else {
      this.setOnline(details.online);
    }
  }

  setOnline(online: boolean): void {
    this.details = { ...this.details, online };
    this.element.dataset.online = String(online);
    this.badge.textContent = online ? 'online' : 'offline';
    this.refreshDisabled();
  }

  /** Controls only work while the page is connected. */
  setLinkOpen(open: boolean): void {
    this.linkOpen = open;
    this.refreshDisabled();
  }

  /** Controls stay disabled, with `reason` as their title, until this is undefined again. */
  setReadOnly(reason: string | undefined): void {
    this.readOnly = reason;
    this.element.dataset.readonly = String(reason !== undefined);
    this.refreshDisabled();
  }

  /** A value from the gateway; older than the one shown (by `at`) is ignored. */
  setValue(name: string, update: PropertyValue): void {
    const previous = this.values.get(name);
    if (previous && update.at < previous.at) return;
    this.values.set(name, update);
    const row = this.rows.get(name);
    if (row) this.showValue(row, update.value, previous === undefined || !Object.is(previous.value, update.value) || previous.at !== update.at);
    for (const panel of this.panels) panel.onValue?.(name, update.value);
  }

  /** An event the device raised, for panels that show it (a robot's progress). */
  onEvent(name: string, data: unknown): void {
    for (const panel of this.panels) panel.onEvent?.(name, data);
    // Something happened on the device (a coffee is ready): values it does not push may have changed.
    if (!this.reading) {
      this.reading = this.readUnobserved().finally(() => {
        this.reading = undefined;
      });
    }
  }

  /** Properties the device does not report on its own (`observable: false`): read them. */
  async readUnobserved(): Promise<void> {
    const names = Object.entries(this.details.properties ?? {})
      .filter(([name, spec]) => spec.observable === false || !this.values.has(name))
      .map(([name]) => name);
    await Promise.all(
      names.map(async (name) => {
        try {
          const value = await this.api.readProperty(this.id, name);
          this.setValue(name, { value, at: Date.now() });
        } catch {
          // Offline, or not reported yet: the row keeps showing what it had.
        }
      }),
    );
  }

  // ---- building ----------------------------------------------------------------

  private render(): void {
    this.rows.clear();
    const properties = Object.entries(this.details.properties ?? {});
    const actions = this.details.actions ?? {};
    this.panels = [coffeePanel(this), drivePanel(this)].filter((panel): panel is Panel => panel !== undefined);
    const handled = new Set(this.panels.flatMap((panel) => panel.actions));

    const list = h('dl', { class: 'props' });
    for (const [name, spec] of properties) list.appendChild(this.propertyRow(name, spec));
    const forms = Object.entries(actions)
      .filter(([name]) => !handled.has(name))
      .map(([name, spec]) => this.actionForm(name, spec));

    this.body.replaceChildren(
      ...this.panels.map((panel) => panel.element),
      properties.length > 0 ? list : h('p', { class: 'muted' }, 'No properties.'),
      ...(forms.length > 0 ? [h('div', { class: 'actions' }, ...forms)] : []),
    );
    for (const [name, update] of this.values) {
      const row = this.rows.get(name);
      if (row) this.showValue(row, update.value, true);
      for (const panel of this.panels) panel.onValue?.(name, update.value);
    }
    this.setOnline(this.details.online);
  }

  private propertyRow(name: string, spec: PropertySpec): HTMLElement {
    const value = h('span', { class: 'value' }, '—');
    const numeric = isNumeric(spec);
    const spark = numeric ? new Sparkline() : undefined;
    let field: Field | undefined;
    let editor: HTMLElement | null = null;
    const label = spec.title ?? humanize(name);
    if (spec.writable) {
      field = createField(spec, { name, label: `New ${label.toLowerCase()}`, required: true, unit: spec.unit });
      if (field.control instanceof HTMLInputElement && field.control.type === 'checkbox') {
        // A switch applies at once; text and numbers wait for "Set".
        field.control.setAttribute('role', 'switch');
        field.element.querySelector('label')!.textContent = label;
        editor = this.switchEditor(name, field);
      } else {
        editor = this.setterForm(name, field, label);
      }
    }
    const row: PropertyRow = { spec, value, spark, field, dirty: false };
    this.rows.set(name, row);
    return h(
      'div',
      { class: 'prop', 'data-property': name, 'data-kind': numeric ? 'number' : typeof spec.type === 'string' ? spec.type : 'any' },
      h('dt', null, label),
      h('dd', null, value, spark?.element),
      editor ? h('dd', { class: 'edit' }, editor) : null,
    );
  }

  private showValue(row: PropertyRow, value: unknown, fresh: boolean): void {
    row.value.textContent = formatValue(value, row.spec.unit);
    if (fresh && typeof value === 'number') row.spark?.push(value);
    if (row.field && !row.dirty && document.activeElement !== row.field.control) row.field.write(value);
  }

  private switchEditor(name: string, field: Field): HTMLElement {
    const result = h('output', { class: 'result' });
    const box = field.control as HTMLInputElement;
    box.addEventListener('change', () => {
      const wanted = box.checked;
      void this.run(box.form, result, async () => {
        try {
          return await this.api.writeProperty(this.id, name, wanted);
        } catch (error) {
          box.checked = !wanted;
          throw error;
        }
      });
    });
    return h('form', { class: 'setter switch', 'data-write': name }, field.element, result);
  }

  private setterForm(name: string, field: Field, label: string): HTMLElement {
    const result = h('output', { class: 'result' });
    const row = (): PropertyRow | undefined => this.rows.get(name);
    field.control.addEventListener('input', () => {
      const current = row();
      if (current) current.dirty = true;
    });
    const form = h('form', { class: 'setter', 'data-write': name }, field.element, h('button', { type: 'submit' }, 'Set', h('span', { class: 'visually-hidden' }, ` ${label}`)), result);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(form, result, async () => {
        const value = field.read();
        const confirmed = await this.api.writeProperty(this.id, name, value === OMIT ? null : value);
        const current = row();
        if (current) current.dirty = false;
        return confirmed;
      });
    });
    return form;
  }

  private actionForm(name: string, spec: ActionSpec): HTMLElement {
    const title = spec.title ?? humanize(name);
    const input = createInputFields(spec.input, name);
    const result = h('output', { class: 'result' });
    const headingId = uid(`action-${name}`);
    const form = h(
      'form',
      { class: 'action', 'data-action': name, 'aria-labelledby': headingId },
      h('h5', { id: headingId, class: input.elements.length > 0 ? null : 'visually-hidden' }, title),
      spec.description ? h('p', { class: 'hint' }, spec.description) : null,
      ...input.elements,
      h('button', { type: 'submit' }, title),
      result,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(form, result, () => this.api.invoke(this.id, name, input.read()));
    });
    return form;
  }

  /**
   * Runs a request for a form: its buttons wait for the answer, the result or the
   * error shows in its <output>, and values the device does not push are read again.
   */
  async run(form: HTMLFormElement | null, result: HTMLOutputElement, work: () => Promise<unknown>): Promise<boolean> {
    if (form) {
      this.busy.add(form);
      this.refreshDisabled();
    }
    result.dataset.status = 'pending';
    result.textContent = 'Sending…';
    let ok = false;
    try {
      const answer = await work();
      result.dataset.status = 'ok';
      result.textContent = summarize(answer);
      ok = true;
    } catch (error) {
      result.dataset.status = 'error';
      result.textContent = describeError(error);
    } finally {
      if (form) this.busy.delete(form);
      this.refreshDisabled();
    }
    if (ok) void this.readUnobserved();
    return ok;
  }

  private refreshDisabled(): void {
    const usable = this.linkOpen && this.details.online && this.readOnly === undefined;
    const controls = this.element.querySelectorAll<HTMLButtonElement | HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('button, input, select, textarea');
    for (const control of Array.from(controls)) {
      const form = control.form;
      // Only buttons and switches wait for a pending answer: typing may go on.
      const waiting = form !== null && this.busy.has(form) && (control instanceof HTMLButtonElement || control.getAttribute('role') === 'switch');
      control.disabled = !usable || waiting;
      if (this.readOnly !== undefined) control.title = this.readOnly;
      else control.removeAttribute('title');
    }
  }

  /** For the panels: the description and a way to run requests like the generic forms do. */
  get description(): DeviceDetails {
    return this.details;
  }

  get gateway(): DeviceApi {
    return this.api;
  }
}

// ---- special panels --------------------------------------------------------------

const BREW_STEPS = ['heating', 'brewing', 'ready'] as const;

/** A coffee maker (a `brew` action and a `state` property): a Brew button and the steps of the cycle. */
function coffeePanel(view: DeviceView): Panel | undefined {
  const { actions, properties } = view.description;
  const brew = actions?.brew;
  const states = properties?.state?.enum ?? [];
  if (!brew || !properties?.state) return undefined;
  const steps = BREW_STEPS.filter((step) => states.length === 0 || states.includes(step));
  const reached = new Set<string>();
  const items = new Map(steps.map((step) => [step, h('li', { 'data-step': step }, humanize(step))]));
  const stateText = h('span', { class: 'brew-state' }, '—');
  const input = createInputFields(brew.input, 'brew');
  const result = h('output', { class: 'result' });
  const headingId = uid('brew');
  const form = h(
    'form',
    { class: 'action brew', 'data-action': 'brew', 'aria-labelledby': headingId },
    h('div', { class: 'fields' }, ...input.elements),
    h('button', { type: 'submit', class: 'primary' }, 'Brew'),
    result,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    reached.clear();
    for (const item of items.values()) delete item.dataset.reached;
    void view.run(form, result, () => view.gateway.invoke(view.id, 'brew', input.read()));
  });
  const element = h(
    'section',
    { class: 'panel coffee', 'aria-labelledby': headingId },
    h('h5', { id: headingId }, brew.title ?? 'Brew'),
    h('p', { class: 'brew-status', 'aria-live': 'polite' }, 'State: ', stateText),
    h('ol', { class: 'steps', 'aria-label': 'Brew cycle' }, ...items.values()),
    form,
  );
  return {
    element,
    actions: ['brew'],
    onValue(name, value) {
      if (name !== 'state' || typeof value !== 'string') return;
      stateText.textContent = value;
      element.dataset.state = value;
      const current = items.get(value as (typeof BREW_STEPS)[number]);
      if (current) {
        reached.add(value);
        current.dataset.reached = '';
      }
      for (const [step, item] of items) {
        if (item === current) item.setAttribute('aria-current', 'step');
        else item.removeAttribute('aria-current');
        if (!reached.has(step)) delete item.dataset.reached;
      }
    },
  };
}

/** The number an action takes, and its name, from its input schema (`{distance}`, `{angle}`). */
function numericInput(spec: ActionSpec | undefined, preferred: string): { key: string; field: Field } | undefined {
  const properties = spec?.input?.properties;
  if (!properties) return undefined;
  const key = properties[preferred] ? preferred : Object.keys(properties).find((name) => isNumeric(properties[name]));
  if (!key) return undefined;
  const schema = properties[key]!;
  return { key, field: createField(schema, { name: key, required: true, unit: (schema as { unit?: string }).unit }) };
}

function defaultStep(field: Field, preferred: number): void {
  const input = field.control as HTMLInputElement;
  const max = input.max === '' ? Infinity : Number(input.max);
  const min = input.min === '' ? -Infinity : Number(input.min);
  input.value = String(Math.min(max, Math.max(min, preferred)));
}

/** A robot (`move` and `rotate` actions, maybe `stop`): a drive pad. */
function drivePanel(view: DeviceView): Panel | undefined {
  const actions = view.description.actions ?? {};
  const move = numericInput(actions.move, 'distance');
  const rotate = numericInput(actions.rotate, 'angle');
  if (!move || !rotate) return undefined;
  // A tenth of the longest move the robot takes (1 m for the demo's 10 m), a quarter turn.
  const longest = Number((move.field.control as HTMLInputElement).max);
  defaultStep(move.field, Number.isFinite(longest) && longest > 0 ? longest / 10 : 1);
  defaultStep(rotate.field, 90);
  const result = h('output', { class: 'result' });
  const headingId = uid('drive');
  const progress = h('progress', { max: 1, value: 0, 'aria-labelledby': `${headingId}-progress` });
  const progressLabel = h('span', { id: `${headingId}-progress` }, 'Idle');
  const form = h('form', { class: 'drive-pad', 'aria-labelledby': headingId });

  const send = (action: string, input: unknown): void => {
    void view.run(form, result, () => view.gateway.invoke(view.id, action, input));
  };
  const amount = (field: Field, sign: 1 | -1): number | undefined => {
    const input = field.control as HTMLInputElement;
    if (!input.reportValidity()) return undefined;
    return sign * input.valueAsNumber;
  };
  const button = (label: string, className: string, onClick: () => void): HTMLButtonElement => {
    const element = h('button', { type: 'button', class: className }, label);
    element.addEventListener('click', onClick);
    return element;
  };
  const drive = (sign: 1 | -1) => () => {
    const distance = amount(move.field, sign);
    if (distance !== undefined) send('move', { [move.key]: distance });
  };
  const turn = (sign: 1 | -1) => () => {
    const angle = amount(rotate.field, sign);
    if (angle !== undefined) send('rotate', { [rotate.key]: angle });
  };

  const handled = ['move', 'rotate'];
  const pad = h(
    'div',
    { class: 'pad' },
    button('Forward', 'forward', drive(1)),
    // Positive angles turn counter-clockwise (to the left), as the robot's description says.
    button('Turn left', 'left', turn(1)),
    actions.stop ? button('Stop', 'stop danger', () => send('stop', undefined)) : h('span', { class: 'stop' }),
    button('Turn right', 'right', turn(-1)),
    button('Back', 'back', drive(-1)),
  );
  if (actions.stop) handled.push('stop');
  form.append(
    h('div', { class: 'fields' }, move.field.element, rotate.field.element),
    pad,
    h('div', { class: 'progress' }, progressLabel, progress),
    result,
  );
  form.addEventListener('submit', (event) => event.preventDefault());
  return {
    element: h('section', { class: 'panel drive' }, h('h5', { id: headingId }, 'Drive'), form),
    actions: handled,
    onEvent(name, data) {
      // `progress` {action, done 0..1} and `done` {action, completed, reason}, when the robot sends them.
      const body = (typeof data === 'object' && data !== null ? data : {}) as { action?: unknown; done?: unknown; completed?: unknown; reason?: unknown };
      const what = typeof body.action === 'string' ? humanize(body.action) : 'Moving';
      if (name === 'progress' && typeof body.done === 'number') {
        progress.value = body.done;
        progressLabel.textContent = `${what}: ${Math.round(body.done * 100)} %`;
      } else if (name === 'done') {
        progress.value = body.completed === false ? progress.value : 1;
        progressLabel.textContent = body.completed === false ? `${what} stopped${typeof body.reason === 'string' ? ` (${body.reason})` : ''}` : `${what}: done`;
      }
    },
  };
}
