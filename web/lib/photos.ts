/** A stored photo's small version (at most 320 px), for the cards that list photos; the link opens the photo itself. */
export const thumbUrl = (url: string): string => `${url}?size=thumb`;
