/**
 * Single-key shortcuts (D draws, S splits, A opens auto-split, ? shows the keys) can be turned off, as WCAG 2.1.4 asks:
 * someone who speaks to the computer, or whose hand slips, must not set off a tool with one letter. Ctrl+Z, Delete, Esc
 * and Enter stay (they are not letters). Kept in this browser; on unless turned off.
 */
const KEY = 'gridplan.singleKeys';

function stored(): boolean {
  try {
    return localStorage.getItem(KEY) !== 'off';
  } catch {
    return true;
  }
}

export const singleKeys = $state({ on: stored() });

export function setSingleKeys(on: boolean): void {
  singleKeys.on = on;
  try {
    localStorage.setItem(KEY, on ? 'on' : 'off');
  } catch {
    // (a browser that keeps nothing: on for this visit only)
  }
}

/** Whether a key press is a single character key the setting turns off (a letter, a digit, ?), not Ctrl+Z or Delete. */
export const isCharacterKey = (e: KeyboardEvent): boolean => e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey;
