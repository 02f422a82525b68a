import type { Action } from 'svelte/action';

/**
 * The WAI-ARIA tabs pattern on a `role="tablist"` element (`use:tablist`): one Tab stop, the
 * selected tab (roving tabindex); ← → move to the previous or next tab, wrapping, Home and End to
 * the first and last, and the tab moved to is selected at once (a click on it: the view's own
 * handler does the selecting, its `aria-selected` says which is selected).
 */
export const tablist: Action<HTMLElement> = (node) => {
  const tabs = () => [...node.querySelectorAll<HTMLElement>('[role="tab"]')];

  // Follows the selection, however it changed (a click, the address, a view's own state).
  const rove = () => {
    const all = tabs();
    const selected = all.find((t) => t.getAttribute('aria-selected') === 'true') ?? all[0];
    for (const t of all) t.tabIndex = t === selected ? 0 : -1;
  };

  const onkeydown = (event: KeyboardEvent) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const all = tabs();
    const from = all.indexOf((event.target as HTMLElement).closest<HTMLElement>('[role="tab"]')!);
    if (from < 0) return;
    const last = all.length - 1;
    const to = { ArrowLeft: from === 0 ? last : from - 1, ArrowRight: from === last ? 0 : from + 1, Home: 0, End: last }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const tab = all[to]!;
    tab.focus();
    if (tab.getAttribute('aria-selected') !== 'true') tab.click();
  };

  rove();
  // (tabs come and go with a view's state: the dispatch queue's extension tab is the centre's only)
  const seen = new MutationObserver(rove);
  seen.observe(node, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-selected'] });
  node.addEventListener('keydown', onkeydown);
  return {
    destroy() {
      seen.disconnect();
      node.removeEventListener('keydown', onkeydown);
    },
  };
};

/**
 * A tab's id and the panel it controls (`{...tabOf('report', 'list')}` on the tab's button), and the panel's own
 * (`{...tabPanel('report', selected)}` on the element holding what the selected tab shows): a screen reader says
 * which tab a panel belongs to and can go from the tab to it. One panel per tab list, its content the selected tab's.
 */
export const tabOf = (base: string, key: string) => ({ id: `${base}-tab-${key}`, 'aria-controls': `${base}-panel` });
export const tabPanel = (base: string, selected: string) => ({ id: `${base}-panel`, role: 'tabpanel', 'aria-labelledby': `${base}-tab-${selected}` });
