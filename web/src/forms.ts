/**
 * Form controls generated from a device description's value schemas (the JSON
 * Schema subset of drivers/driver.ts): a select for an enum, a checkbox for a
 * boolean, a number input with min/max/step, a text input, and a JSON text area for
 * anything else. Each control has a real <label>.
 */
import type { ValueSchema } from '../../drivers/driver.js';
import { h, humanize, uid } from './dom.js';

/** Returned by `read()` for an optional field left empty: the key is left out. */
export const OMIT: unique symbol = Symbol('omit');

export interface Field {
  /** The label and its control, to place in a form. */
  readonly element: HTMLElement;
  /** The control itself (to focus, or to prefill). */
  readonly control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  /** The value to send; throws a message for text that is not valid JSON. */
  read(): unknown;
  /** Shows a value in the control (prefill with the current value). */
  write(value: unknown): void;
}

export interface FieldOptions {
  name: string;
  label?: string;
  required?: boolean;
  /** Unit shown after the label, e.g. `°C`. */
  unit?: string;
}

function typeOf(schema: ValueSchema): ValueSchema['type'] {
  if (schema.type) return schema.type;
  const first = schema.enum?.[0];
  if (typeof first === 'number') return 'number';
  if (typeof first === 'boolean') return 'boolean';
  if (typeof first === 'string') return 'string';
  return undefined;
}

export function isNumeric(schema: ValueSchema | undefined): boolean {
  const type = schema ? typeOf(schema) : undefined;
  return (type === 'number' || type === 'integer') && !schema?.enum;
}

function labelFor(id: string, options: FieldOptions, schema: ValueSchema): HTMLLabelElement {
  const text = options.label ?? schema.title ?? humanize(options.name);
  return h('label', { for: id }, text, options.unit ? ` (${options.unit})` : null);
}

/** One control for one value, showing the schema's default when it has one (what the gateway fills in anyway). */
export function createField(schema: ValueSchema, options: FieldOptions): Field {
  const field = createControl(schema, options);
  if (schema.default !== undefined) field.write(schema.default);
  return field;
}

function createControl(schema: ValueSchema, options: FieldOptions): Field {
  const id = uid(`field-${options.name}`);
  const required = options.required ?? false;
  const type = typeOf(schema);
  const hint = schema.description ? h('small', { id: `${id}-hint`, class: 'hint' }, schema.description) : null;
  const describedBy = hint ? `${id}-hint` : undefined;

  if (schema.enum) {
    const values = schema.enum;
    const select = h(
      'select',
      { id, name: options.name, required, 'aria-describedby': describedBy },
      required ? null : h('option', { value: '' }, '—'),
      ...values.map((value, index) => h('option', { value: String(index) }, String(value))),
    );
    return {
      element: h('div', { class: 'field' }, labelFor(id, options, schema), select, hint),
      control: select,
      read: () => (select.value === '' ? OMIT : values[Number(select.value)]),
      write: (value) => {
        const index = values.indexOf(value as string | number | boolean);
        if (index >= 0) select.value = String(index);
      },
    };
  }

  if (type === 'boolean') {
    const box = h('input', { id, name: options.name, type: 'checkbox', 'aria-describedby': describedBy });
    return {
      element: h('div', { class: 'field check' }, box, labelFor(id, options, schema), hint),
      control: box,
      read: () => box.checked,
      write: (value) => {
        box.checked = value === true;
      },
    };
  }

  if (type === 'number' || type === 'integer') {
    const input = h('input', {
      id,
      name: options.name,
      type: 'number',
      inputmode: type === 'integer' ? 'numeric' : 'decimal',
      step: type === 'integer' ? 1 : 'any',
      min: schema.minimum,
      max: schema.maximum,
      required,
      'aria-describedby': describedBy,
    });
    return {
      element: h('div', { class: 'field' }, labelFor(id, options, schema), input, hint),
      control: input,
      read: () => (input.value === '' ? OMIT : input.valueAsNumber),
      write: (value) => {
        if (typeof value === 'number') input.value = String(value);
      },
    };
  }

  if (type === 'string') {
    const input = h('input', {
      id,
      name: options.name,
      type: 'text',
      minlength: schema.minLength,
      maxlength: schema.maxLength,
      required,
      autocomplete: 'off',
      'aria-describedby': describedBy,
    });
    return {
      element: h('div', { class: 'field' }, labelFor(id, options, schema), input, hint),
      control: input,
      read: () => (input.value === '' && !required ? OMIT : input.value),
      write: (value) => {
        if (typeof value === 'string') input.value = value;
      },
    };
  }

  // Objects without declared properties, arrays, anything: JSON typed by hand.
  const area = h('textarea', { id, name: options.name, rows: 2, required, spellcheck: 'false', 'aria-describedby': describedBy });
  return {
    element: h('div', { class: 'field' }, labelFor(id, options, schema), area, hint),
    control: area,
    read: () => {
      if (area.value.trim() === '') return OMIT;
      try {
        return JSON.parse(area.value) as unknown;
      } catch {
        throw new Error(`${options.label ?? humanize(options.name)}: not valid JSON`);
      }
    },
    write: (value) => {
      if (value !== undefined) area.value = JSON.stringify(value);
    },
  };
}

export interface InputFields {
  readonly elements: HTMLElement[];
  readonly fields: ReadonlyMap<string, Field>;
  /** The action's input: undefined when it takes none. */
  read(): unknown;
}

/** The controls for an action's input: one per declared object property, or one for a scalar. */
export function createInputFields(schema: ValueSchema | undefined, name: string): InputFields {
  if (!schema) return { elements: [], fields: new Map(), read: () => undefined };
  if (typeOf(schema) === 'object' && schema.properties) {
    const required = new Set(schema.required ?? []);
    const fields = new Map<string, Field>();
    for (const [key, property] of Object.entries(schema.properties)) {
      fields.set(key, createField(property, { name: key, required: required.has(key), unit: (property as { unit?: string }).unit }));
    }
    return {
      elements: [...fields.values()].map((field) => field.element),
      fields,
      read: () => {
        const body: Record<string, unknown> = {};
        for (const [key, field] of fields) {
          const value = field.read();
          if (value !== OMIT) body[key] = value;
        }
        return body;
      },
    };
  }
  const field = createField(schema, { name, label: schema.title ?? 'Input', required: true });
  return {
    elements: [field.element],
    fields: new Map([[name, field]]),
    read: () => {
      const value = field.read();
      return value === OMIT ? undefined : value;
    },
  };
}
