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

/** What a one-line name may not hold: line breaks and tabs, control characters (C0, C1), turns of direction, and the invisible. */
// eslint-disable-next-line no-misleading-character-class -- (each taken alone, as INVISIBLE)
const NOT_ONE_LINE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]|${INVISIBLE.source}`, 'u');
/** Whether a name (of a department, a category, a person) reads as it is: one line, nothing hidden in it. */
export const isOneLine = (s: string) => !NOT_ONE_LINE.test(s);

/** Control characters and turns of direction, which no text read from a file needs (a cell's line breaks and tabs stay). */
// eslint-disable-next-line no-control-regex -- (finding them is the point)
const HIDDEN_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/**
 * A file's cell as it reads: control characters, turns of direction and invisible characters taken out (a name pasted
 * with a zero-width space, a terminal's escape, U+202E), so a name is what it shows.
 */
export const fileText = (s: string) => s.replace(HIDDEN_CONTROL, '').replace(INVISIBLE, '');

/** A name from a file: as it reads, on one line (a cell's Alt+Enter line breaks and runs of spaces as one space). */
export const oneLineText = (s: string) => fileText(s).replace(/\s+/g, ' ').trim();
