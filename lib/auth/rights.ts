/**
 * Per-room rights from a token's `rooms` claim: `{"subscribe": [patterns], "publish": [patterns]}`.
 * A pattern matches the whole room name; `*` matches any run of characters (none included) and
 * every other character is literal, so `ctx-42.*` allows `ctx-42.a` but not `ctx-42` or `xctx-42.a`.
 * A missing or malformed claim grants nothing (fail closed).
 */

export type Action = 'subscribe' | 'publish';

/** The claim as carried in a connection's state: plain data, so it survives serialization. */
export interface RoomRights {
  subscribe: string[];
  publish: string[];
}

export const NO_RIGHTS: RoomRights = Object.freeze({ subscribe: [], publish: [] }) as RoomRights;

/** Longest list and pattern taken from a claim; anything longer is cut off. */
const MAX_PATTERNS = 1000;
const MAX_PATTERN_LENGTH = 1024;

/**
 * Reads the `rooms` claim (an object, or a JSON string holding one, for issuers that only allow
 * string claims). Non-string patterns are dropped; a claim of the wrong shape is no rights at all.
 */
export function parseRoomsClaim(claim: unknown): RoomRights {
  let value = claim;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return NO_RIGHTS;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return NO_RIGHTS;
  const patterns = (list: unknown): string[] =>
    Array.isArray(list)
      ? list.filter((p): p is string => typeof p === 'string' && p.length > 0 && p.length <= MAX_PATTERN_LENGTH).slice(0, MAX_PATTERNS)
      : [];
  const rights = value as Record<string, unknown>;
  return { subscribe: patterns(rights.subscribe), publish: patterns(rights.publish) };
}

/** Whole-string match of one pattern; linear backtracking to the last `*`, never exponential. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A compiled pattern list: literal names in a Set, `*` alone as a flag, the rest matched in turn. */
class Matcher {
  private readonly all: boolean;
  private readonly literals = new Set<string>();
  private readonly globs: string[] = [];

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      if (!p.includes('*')) this.literals.add(p);
      else this.globs.push(p);
    }
    this.all = this.globs.some((g) => /^\*+$/.test(g));
  }

  matches(room: string): boolean {
    if (this.all || this.literals.has(room)) return true;
    for (const glob of this.globs) if (globMatch(glob, room)) return true;
    return false;
  }
}

/** Compiled once per claim object (connections keep theirs for their lifetime). */
const compiled = new WeakMap<RoomRights, { subscribe: Matcher; publish: Matcher }>();

export function allows(rights: RoomRights, action: Action, room: string): boolean {
  let m = compiled.get(rights);
  if (!m) {
    m = { subscribe: new Matcher(rights.subscribe), publish: new Matcher(rights.publish) };
    compiled.set(rights, m);
  }
  return m[action].matches(room);
}
