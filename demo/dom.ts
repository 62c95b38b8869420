/** A small element builder: text goes in as text, never as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`demo page: #${id} is missing from index.html`);
  return element as T;
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return 'code' in error ? `${error.message} (${String((error as { code: unknown }).code)})` : error.message;
  return String(error);
}

export const usd = (v: number): string => `$${v < 0.01 ? v.toFixed(5) : v.toFixed(4)}`;
