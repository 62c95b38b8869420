/**
 * The three tabs as an ARIA tablist: Left/Right/Home/End move between tabs (roving tabindex),
 * each tab controls its panel, and the URL hash keeps the open tab (so a link can open the lab).
 */
import { byId } from './dom';

export function mountTabs(names: readonly string[]): void {
  const tabs = names.map((n) => byId<HTMLButtonElement>(`nav-${n}`));
  const show = (name: string, focus = false): void => {
    names.forEach((n, i) => {
      const on = n === name;
      byId(`tab-${n}`).hidden = !on;
      tabs[i]!.setAttribute('aria-selected', String(on));
      tabs[i]!.tabIndex = on ? 0 : -1;
      if (on && focus) tabs[i]!.focus();
    });
  };
  names.forEach((name, i) => {
    tabs[i]!.addEventListener('click', () => {
      location.hash = name;
    });
    tabs[i]!.addEventListener('keydown', (event) => {
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: names.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      const to = names[(next + names.length) % names.length]!;
      history.replaceState(null, '', `#${to}`);
      show(to, true);
    });
  });
  const fromHash = (): string => (names.includes(location.hash.slice(1)) ? location.hash.slice(1) : names[0]!);
  window.addEventListener('hashchange', () => show(fromHash()));
  show(fromHash());
}
