// A very small DOM helper: h('tag.class', { attributes }, ...children). Text is always set as text,
// never as HTML, so nothing a mail or a title holds can become markup.
type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(spec: K | `${K}.${string}` | `${K}#${string}`, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const [tagAndId, ...classes] = spec.split('.');
  const [tag, id] = tagAndId!.split('#');
  const element = document.createElement(tag as K);
  if (id) element.id = id;
  if (classes.length) element.className = classes.join(' ');
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function clear(element: Element) {
  while (element.firstChild) element.firstChild.remove();
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const date = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
export const formatDateTime = (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : '');
export const formatTime = (iso: string | null | undefined) => (iso ? time.format(new Date(iso)) : '');
export const formatDate = (value: Date | string) => date.format(typeof value === 'string' ? new Date(value) : value);
export const formatCount = (n: number) => n.toLocaleString();

/** YYYY-MM-DD of a date in local time. */
export function localDay(value: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
}

/** The local midnight starting a YYYY-MM-DD day, and the next one. */
export function dayRange(day: string): { from: Date; to: Date } {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return { from: new Date(y, m - 1, d), to: new Date(y, m - 1, d + 1) };
}

/** A status line that screen readers announce. */
export function status(text = ''): HTMLParagraphElement {
  return h('p.status', { role: 'status', 'aria-live': 'polite' }, text);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** replaceChildren that skips null, undefined and false. */
export function replace(parent: Element, ...children: Child[]) {
  clear(parent);
  append(parent, ...children);
}

/** "1 file", "3 files". */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? noun : nouns}`;
}
