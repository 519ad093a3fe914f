/**
 * A JSON validator that can stop and resume anywhere, so that a large text is checked in slices
 * between other clients' work instead of in one blocking JSON.parse. It accepts exactly what
 * JSON.parse accepts (test/json-scanner.test.ts compares the two), refuses nesting deeper than a
 * limit as soon as it gets there, allocates nothing per value, and notes where chosen values start
 * and end so that the large ones can be kept as text (lib/json/large-json.ts) instead of parsed.
 */

const enum S {
  Value, // a value must come (first element/value, after ':' or ',')
  ValueOrClose, // right after '[': a value or ']'
  Key, // after ',' in an object: a key must come
  KeyOrClose, // right after '{': a key or '}'
  Colon,
  After, // after a value inside a container: ',' or the closing bracket
  End, // after the top-level value: only whitespace
  Str,
  StrEscape,
  StrHex, // inside \uXXXX; `hexLeft` digits to go
  NumMinus, // after '-': a digit must come
  NumZero, // after a leading 0: '.', 'e' or the end
  NumInt,
  NumDot, // after '.': a digit must come
  NumFrac,
  NumE, // after 'e': sign or digit
  NumESign, // after the exponent's sign: a digit must come
  NumExp,
  Literal, // inside true/false/null
  Done,
  Failed,
}

const enum C {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Plus = 0x2b,
  Comma = 0x2c,
  Minus = 0x2d,
  Dot = 0x2e,
  Slash = 0x2f,
  D0 = 0x30,
  D1 = 0x31,
  D9 = 0x39,
  Colon = 0x3a,
  A = 0x41,
  E = 0x45,
  F = 0x46,
  OpenArray = 0x5b,
  Backslash = 0x5c,
  CloseArray = 0x5d,
  a = 0x61,
  b = 0x62,
  e = 0x65,
  f = 0x66,
  n = 0x6e,
  r = 0x72,
  t = 0x74,
  u = 0x75,
  OpenObject = 0x7b,
  CloseObject = 0x7d,
}

const isWs = (c: number): boolean => c === C.Space || c === C.Lf || c === C.Cr || c === C.Tab;
const isDigit = (c: number): boolean => c >= C.D0 && c <= C.D9;
const isHex = (c: number): boolean => isDigit(c) || (c >= C.a && c <= C.f) || (c >= C.A && c <= C.F);

export type ScanFailure = 'syntax' | 'depth';

/** A value the caller asked to be told about: where its text starts and ends. */
export interface Span {
  start: number;
  end: number;
  /** 0 for the top-level value, 1 for its elements or members, ... */
  depth: number;
  /** Position in its parent array (members of an object: their order). */
  index: number;
  /** Its size in UTF-8. */
  bytes: number;
}

export interface ScanOptions {
  /** Deepest nesting allowed: each `[` or `{` is one level. */
  maxDepth: number;
  /**
   * Asked when a value starts at depth `depth` <= `watchDepth` (never for keys): true to get its
   * span in `spans` once it ends. `first` is its first character; `parentIndex` the index of the
   * value's parent in its own parent (e.g. which argument of a packet a member belongs to).
   */
  watch?: (depth: number, index: number, first: number, parentIndex: number) => boolean;
  watchDepth?: number;
}

export class JsonScanner {
  private pos: number;
  private state = S.Value;
  /** 1 for '[', 2 for '{' per open level. */
  private readonly stack: Uint8Array;
  /** Index of the current element at each level, and of each open container in its parent. */
  private readonly indexes: Int32Array;
  private depth = 0;
  private isKey = false;
  private hexLeft = 0;
  private literal = '';
  private literalAt = 0;
  /** Start of the watched value being read, or -1; `watchedAt` its depth. */
  private watchedStart = -1;
  private watchedExtra = 0;
  /** UTF-8 bytes of the text so far beyond one per character. */
  private extraBytes = 0;
  private watchedAt = -1;
  readonly spans: Span[] = [];
  /** Values deeper than this are never watched (-1: none are). */
  private readonly watchDepth: number;
  failure: ScanFailure | undefined;

  constructor(
    private readonly text: string,
    private readonly opts: ScanOptions,
    start = 0,
    private readonly end = text.length,
  ) {
    this.pos = start;
    this.watchDepth = opts.watch ? (opts.watchDepth ?? 0) : -1;
    this.stack = new Uint8Array(opts.maxDepth + 1);
    this.indexes = new Int32Array(opts.maxDepth + 2);
  }

  get done(): boolean {
    return this.state === S.Done || this.state === S.Failed;
  }

  get ok(): boolean {
    return this.state === S.Done;
  }

  /** Reads up to `budget` characters; true once the text is fully read (valid or not). */
  step(budget: number): boolean {
    const text = this.text;
    const limit = Math.min(this.end, this.pos + budget);
    // Locals in the loop (written back below): this runs a few nanoseconds per character.
    let pos = this.pos;
    let state = this.state;
    while (pos < limit) {
      let c = text.charCodeAt(pos);
      if (state === S.Str) {
        // The hot loops: most of a large text is string bodies, numbers and commas.
        while (c !== C.Quote && c !== C.Backslash && c >= C.Space) {
          // UTF-8 bytes beyond one per character (only string bodies may hold non-ASCII).
          if (c >= 0x80) this.extraBytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
          if (++pos === limit) break;
          c = text.charCodeAt(pos);
        }
        if (pos === limit) break;
        pos++;
        if (c === C.Quote) {
          if (this.isKey) state = S.Colon;
          else state = this.valueDone(pos);
        } else if (c === C.Backslash) state = S.StrEscape;
        else return this.fail('syntax', pos - 1);
        continue;
      }
      if (state === S.NumInt || state === S.NumFrac || state === S.NumExp) {
        while (c >= C.D0 && c <= C.D9) {
          if (++pos === limit) break;
          c = text.charCodeAt(pos);
        }
        if (pos === limit) break;
        if (state === S.NumInt && c === C.Dot) {
          state = S.NumDot;
          pos++;
        } else if (state !== S.NumExp && (c === C.e || c === C.E)) {
          state = S.NumE;
          pos++;
        } else state = this.valueDone(pos);
        continue;
      }
      if (state === S.After && c === C.Comma) {
        // `,` then most often a number or a string: no trip through structural().
        this.indexes[this.depth]++;
        state = this.stack[this.depth - 1] === 1 ? S.Value : S.Key;
        pos++;
        continue;
      }
      if (state === S.Value && (this.watchedStart >= 0 || this.depth > this.watchDepth)) {
        // Nothing to watch here: numbers and strings start directly.
        if (c >= C.D1 && c <= C.D9) {
          state = S.NumInt;
          pos++;
          continue;
        }
        if (c === C.D0) {
          state = S.NumZero;
          pos++;
          continue;
        }
        if (c === C.Quote) {
          this.isKey = false;
          state = S.Str;
          pos++;
          continue;
        }
      }
      switch (state) {
        case S.StrEscape:
          pos++;
          if (c === C.u) {
            state = S.StrHex;
            this.hexLeft = 4;
          } else if (c === C.Quote || c === C.Backslash || c === C.Slash || c === C.b || c === C.f || c === C.n || c === C.r || c === C.t) {
            state = S.Str;
          } else return this.fail('syntax', pos - 1);
          break;
        case S.StrHex:
          if (!isHex(c)) return this.fail('syntax', pos);
          pos++;
          if (--this.hexLeft === 0) state = S.Str;
          break;
        case S.NumMinus:
          if (c === C.D0) state = S.NumZero;
          else if (c >= C.D1 && c <= C.D9) state = S.NumInt;
          else return this.fail('syntax', pos);
          pos++;
          break;
        case S.NumZero:
          if (c === C.Dot) {
            state = S.NumDot;
            pos++;
          } else if (c === C.e || c === C.E) {
            state = S.NumE;
            pos++;
          } else state = this.valueDone(pos);
          break;
        case S.NumDot:
          if (!isDigit(c)) return this.fail('syntax', pos);
          state = S.NumFrac;
          pos++;
          break;
        case S.NumE:
          if (c === C.Plus || c === C.Minus) state = S.NumESign;
          else if (isDigit(c)) state = S.NumExp;
          else return this.fail('syntax', pos);
          pos++;
          break;
        case S.NumESign:
          if (!isDigit(c)) return this.fail('syntax', pos);
          state = S.NumExp;
          pos++;
          break;
        case S.Literal:
          if (c !== this.literal.charCodeAt(this.literalAt)) return this.fail('syntax', pos);
          pos++;
          if (++this.literalAt === this.literal.length) state = this.valueDone(pos);
          break;
        default:
          if (isWs(c)) {
            pos++;
            break;
          }
          this.state = state;
          if (!this.structural(c, pos)) return true;
          state = this.state;
          pos++;
      }
    }
    this.pos = pos;
    this.state = state;
    if (pos >= this.end && state !== S.Done && state !== S.Failed) this.finish(pos);
    return this.done;
  }

  /** At the end of the text: a number may end there, anything else open is an error. */
  private finish(pos: number): void {
    if (this.state === S.NumZero || this.state === S.NumInt || this.state === S.NumFrac || this.state === S.NumExp) this.valueDone(pos);
    if (this.state === S.End) this.state = S.Done;
    else this.fail('syntax', pos);
  }

  /** A non-whitespace character between tokens; false when the text failed. */
  private structural(c: number, pos: number): boolean {
    const state = this.state;
    if (state === S.Value || state === S.ValueOrClose) {
      if (c === C.CloseArray && state === S.ValueOrClose) return this.close(1, pos);
      return this.valueStart(c, pos);
    }
    if (state === S.Key || state === S.KeyOrClose) {
      if (c === C.CloseObject && state === S.KeyOrClose) return this.close(2, pos);
      if (c !== C.Quote) return this.refuse(pos);
      this.isKey = true;
      this.state = S.Str;
      return true;
    }
    if (state === S.Colon) {
      if (c !== C.Colon) return this.refuse(pos);
      this.state = S.Value;
      return true;
    }
    if (state === S.After) {
      if (c === C.Comma) {
        this.indexes[this.depth]++;
        this.state = this.stack[this.depth - 1] === 1 ? S.Value : S.Key;
        return true;
      }
      if (c === C.CloseArray) return this.close(1, pos);
      if (c === C.CloseObject) return this.close(2, pos);
    }
    return this.refuse(pos); // S.End: only whitespace may follow
  }

  /** A syntax error at `pos`; false for `structural`. */
  private refuse(pos: number): false {
    this.fail('syntax', pos);
    return false;
  }

  private valueStart(c: number, pos: number): boolean {
    const depth = this.depth;
    if (depth <= this.watchDepth && this.watchedStart < 0) {
      if (this.opts.watch!(depth, this.indexes[depth]!, c, depth > 0 ? this.indexes[depth - 1]! : 0)) {
        this.watchedStart = pos;
        this.watchedAt = depth;
        this.watchedExtra = this.extraBytes;
      }
    }
    if (c === C.OpenArray || c === C.OpenObject) {
      if (depth >= this.opts.maxDepth) {
        this.fail('depth', pos);
        return false;
      }
      this.stack[depth] = c === C.OpenArray ? 1 : 2;
      this.depth = depth + 1;
      this.indexes[depth + 1] = 0;
      this.state = c === C.OpenArray ? S.ValueOrClose : S.KeyOrClose;
      return true;
    }
    if (c === C.Quote) {
      this.isKey = false;
      this.state = S.Str;
    } else if (c === C.Minus) this.state = S.NumMinus;
    else if (c === C.D0) this.state = S.NumZero;
    else if (c >= C.D1 && c <= C.D9) this.state = S.NumInt;
    else if (c === C.t || c === C.f || c === C.n) {
      this.literal = c === C.t ? 'true' : c === C.f ? 'false' : 'null';
      this.literalAt = 1;
      this.state = S.Literal;
    } else return this.refuse(pos);
    return true;
  }

  private close(kind: 1 | 2, pos: number): boolean {
    if (this.stack[this.depth - 1] !== kind) return this.refuse(pos);
    this.depth--;
    this.valueDone(pos + 1);
    return true;
  }

  /** A value ended just before `end`. */
  private valueDone(end: number): S {
    this.state = this.depth === 0 ? S.End : S.After;
    if (this.watchedAt === this.depth && this.watchedStart >= 0) {
      this.spans.push({ start: this.watchedStart, end, depth: this.depth, index: this.indexes[this.depth]!, bytes: end - this.watchedStart + this.extraBytes - this.watchedExtra });
      this.watchedStart = -1;
      this.watchedAt = -1;
    }
    return this.state;
  }

  private fail(failure: ScanFailure, pos: number): true {
    this.failure = failure;
    this.state = S.Failed;
    this.pos = pos;
    return true;
  }
}
