/**
 * Characters that show nothing — zero-width spaces and joiners, marks of direction, soft hyphens,
 * variation selectors, fillers that print as a blank (ㅤ), tags, the byte-order mark: taken out of a
 * name, an address or a note as it is read, so 银湾村999\u200f号 is 银湾村999号 (and the same door).
 */
/* (each taken out alone, combining or not: the class is meant as written) */
/* eslint-disable no-misleading-character-class */
export const INVISIBLE =
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2060-\u2064\u206a-\u206f\u3164\ufe00-\ufe0f\uffa0\ufeff\u{e0000}-\u{e0fff}]/gu;
/* eslint-enable no-misleading-character-class */

/** Text as it reads: NFC, invisible characters out, line and paragraph separators as spaces, trimmed. */
export const visibleText = (s: string) =>
  s
    .normalize('NFC')
    .replace(INVISIBLE, '')
    .replace(/[\u2028\u2029]/g, ' ')
    .trim();

/** A character a file's bytes could not be read as (a GBK file read as UTF-8): the text is not what was written. */
export const UNREADABLE = /\ufffd/;
