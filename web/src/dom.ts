/** A tiny element builder: enough for the dashboard without a framework. */

type AttrValue = string | number | boolean | null | undefined;
export type Child = Node | string | number | null | undefined | false;

/**
 * Creates an element. Attributes set to false, null or undefined are left out; true
 * writes an empty attribute (`disabled`, `required`). Children that are false, null
 * or undefined are skipped, so conditionals can stay inline.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Readonly<Record<string, AttrValue>> | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === false || child === null || child === undefined) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

let sequence = 0;

/** A document-unique id, for label `for` and aria references. */
export function uid(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '-')}-${++sequence}`;
}

/** `boilerTemperature` -> `Boiler temperature`, `cups_brewed` -> `Cups brewed`. */
export function humanize(name: string): string {
  const words = name
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
