/**
 * A JSON value kept as the text it arrived in. A large message is never parsed on the event loop
 * (lib/json/large-json.ts validates it in slices): it travels as its text through the publish path,
 * the history, the recovery buffer and the store, and is spliced back into every packet that
 * carries it (`stringifyWithRaw`), so a 4 MB notification costs a copy, not a parse and a
 * stringify of millions of values.
 *
 * Any other JSON.stringify of a RawJson still gives the right JSON: its toJSON parses the text
 * (slow but correct), and counts it, so a test can tell that a fast path was bypassed.
 */
import { randomBytes } from 'node:crypto';

/** Splicing stringifies in progress, and the RawJson values the innermost one met so far. */
let active = 0;
let found: RawJson[] | undefined;
/** Unguessable, so no client string can pose as a placeholder. */
const MARK = `\u0000${randomBytes(9).toString('base64')}#`;
const QUOTED_MARK = JSON.stringify(MARK).slice(0, -1); // `"\u0000…#` as it appears in JSON text

let fallbackParses = 0;
let made = 0;

export class RawJson {
  /** `text` must be one valid JSON value (checked by whoever makes it); `utf8Bytes` its size when known. */
  constructor(
    readonly text: string,
    private utf8Bytes?: number,
  ) {
    made++;
  }

  /** UTF-16 length of the text: what the byte budgets count. */
  get length(): number {
    return this.text.length;
  }

  /** Size of the text in UTF-8 (the size limit): counted by the scanner that read it, else here once. */
  get bytes(): number {
    return (this.utf8Bytes ??= Buffer.byteLength(this.text, 'utf8'));
  }

  /** The parsed value (the slow path; see the module comment). */
  value(): unknown {
    fallbackParses++;
    return JSON.parse(this.text);
  }

  toJSON(): unknown {
    if (active === 0) return this.value();
    const list = (found ??= []);
    let i = list.indexOf(this);
    if (i < 0) i = list.push(this) - 1;
    return MARK + i;
  }
}

/** How many RawJson values were made (for tests: a large message was kept as text). */
export function rawJsonMade(): number {
  return made;
}

/** How often a RawJson was parsed to be stringified (for tests of the fast paths). */
export function rawJsonFallbackParses(): number {
  return fallbackParses;
}

/**
 * Brackets a JSON.stringify (direct, or in a library such as socket.io-parser) in which each RawJson
 * becomes a placeholder: `rawSessionStart()` before, `rawSessionEnd(outer)` after (in a finally)
 * gives the RawJson values met, or undefined when there were none; `fillRaw` then puts their text
 * in. No closure or array per call: this brackets every packet socket.io encodes.
 */
export function rawSessionStart(): RawJson[] | undefined {
  const outer = found;
  found = undefined;
  active++;
  return outer;
}

export function rawSessionEnd(outer: RawJson[] | undefined): RawJson[] | undefined {
  active--;
  const mine = found;
  found = outer;
  return mine;
}

/** JSON.stringify with each RawJson's text spliced in. */
export function stringifyWithRaw(value: unknown): string {
  const outer = rawSessionStart();
  let json: string | undefined;
  let raws;
  try {
    json = JSON.stringify(value) as string | undefined;
  } finally {
    raws = rawSessionEnd(outer);
  }
  return (raws === undefined || json === undefined ? json : fillRaw(json, raws)) as string;
}

/** Replaces `"<MARK><i>"` by the i-th raw text; placeholders come out in the order they were made. */
export function fillRaw(json: string, raws: RawJson[]): string {
  let out = '';
  let from = 0;
  for (;;) {
    const at = json.indexOf(QUOTED_MARK, from);
    if (at < 0) break;
    const close = json.indexOf('"', at + QUOTED_MARK.length);
    const raw = raws[Number(json.slice(at + QUOTED_MARK.length, close))];
    if (raw === undefined || close < 0) throw new Error('raw-json: malformed placeholder');
    out += json.slice(from, at) + raw.text;
    from = close + 1;
  }
  return from === 0 ? json : out + json.slice(from);
}

/** The placeholder a skeleton text (lib/json/large-json.ts) holds for its i-th raw value. */
export function placeholderJson(i: number): string {
  return `${QUOTED_MARK}${i}"`;
}

/** A JSON.parse reviver turning a skeleton's placeholders back into their RawJson values. */
export function reviveRaw(raws: RawJson[]): (key: string, value: unknown) => unknown {
  return (_key, value) => (typeof value === 'string' && value.charCodeAt(0) === 0 && value.startsWith(MARK) ? raws[Number(value.slice(MARK.length))] : value);
}
