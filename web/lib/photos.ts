/** A stored photo's small version (at most 320 px), for the cards that list photos; the link opens the photo itself. */
export const thumbUrl = (url: string): string => `${url}?size=thumb`;

/**
 * A photo that failed to load — the phone had no signal when the list was drawn — loads again when the signal returns
 * (a broken image stays broken otherwise, until the page is reloaded). A Svelte action: `<img use:retryOnline …>`.
 */
export function retryOnline(img: HTMLImageElement): { destroy(): void } {
  const again = () => {
    // setting the address, even the same one, loads it anew
    const src = img.getAttribute('src');
    if (img.complete && img.naturalWidth === 0 && src) img.setAttribute('src', src);
  };
  const failed = () => addEventListener('online', again, { once: true });
  img.addEventListener('error', failed);
  return {
    destroy() {
      img.removeEventListener('error', failed);
      removeEventListener('online', again);
    },
  };
}
