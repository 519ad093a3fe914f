/**
 * How deeply a JSON text nests, found without parsing it: one linear pass that counts `[` and `{`
 * outside string literals and stops as soon as the limit is passed. It runs before JSON.parse on
 * every socket.io packet and every JSON-string payload, so that a hostile `[[[[…` costs at most
 * one scan of the frame (and usually much less), never a full parse of millions of levels.
 */

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const OPEN_ARRAY = 0x5b; // [
const OPEN_OBJECT = 0x7b; // {
const CLOSE_ARRAY = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }

/**
 * True when the JSON text in `text` from `start` on opens more than `maxDepth` levels at once
 * (each `[` or `{` is one level: `[[1]]` is 2 deep). Brackets inside strings do not count; text
 * that is not valid JSON is scanned the same way (JSON.parse refuses it after).
 */
export function exceedsDepth(text: string, maxDepth: number, start = 0): boolean {
  // Fewer characters than levels allowed: nothing to find (most packets end here).
  if (text.length - start <= maxDepth) return false;
  // Fewer brackets than levels allowed (a typical packet): a few native searches decide.
  if (openingsAtMost(text, start, maxDepth)) return false;
  let depth = 0;
  const end = text.length;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i + 1);
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return true;
    } else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && depth > 0) {
      depth--;
    }
  }
  return false;
}

/** At most `max` `[` and `{` in the text from `start` on (quoted or not)? Stops counting past max. */
function openingsAtMost(text: string, start: number, max: number): boolean {
  let n = 0;
  for (let i = text.indexOf('[', start); i >= 0; i = text.indexOf('[', i + 1)) if (++n > max) return false;
  for (let i = text.indexOf('{', start); i >= 0; i = text.indexOf('{', i + 1)) if (++n > max) return false;
  return true;
}

/** Index of the quote closing the string whose body starts at `from` (or the end of the text). */
function stringEnd(text: string, from: number): number {
  for (let i = from; ; ) {
    const quote = text.indexOf('"', i);
    if (quote < 0) return text.length;
    // Escaped when preceded by an odd run of backslashes.
    let backslashes = 0;
    for (let j = quote - 1; j >= from && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return quote;
    i = quote + 1;
  }
}
