/** The pages with a first-run guide, and where each account's dismissals are kept (this browser). */
export const GUIDED = ['plan', 'analyze', 'center', 'dispatch', 'assessment', 'import', 'settings', 'report'] as const;

const key = (user: string) => `gridplan-guides-seen-${user}`;

function seen(user: string): string[] {
  try {
    return JSON.parse(localStorage.getItem(key(user)) ?? '[]') as string[];
  } catch {
    return [];
  }
}

export const guideSeen = (user: string, view: string) => seen(user).includes(view);

export function markGuideSeen(user: string, view: string): void {
  localStorage.setItem(key(user), JSON.stringify([...new Set([...seen(user), view])]));
}

export function resetGuides(user: string): void {
  localStorage.removeItem(key(user));
}
