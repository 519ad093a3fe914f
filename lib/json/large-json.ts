/**
 * Reads a large JSON text without blocking the event loop: it is validated in slices (lib/json/
 * json-scanner.ts), each followed by a turn of the loop, and the values the caller chooses (a
 * message inside a packet) are kept as RawJson text when they are large; only the small rest (the
 * skeleton: event name, room, flags) is parsed. A 4 MB notification thus costs a few short slices
 * of scanning instead of a JSON.parse of up to hundreds of milliseconds, and nobody waits behind it.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { JsonScanner, type ScanFailure } from './json-scanner.js';
import { placeholderJson, RawJson, reviveRaw } from './raw-json.js';

/**
 * Time validated per turn of the event loop, whatever the scanner's speed (cold code runs 10 times
 * slower than optimised code: a first large message must not block longer than later ones).
 */
export const SLICE_MS = 1;
/** Characters scanned between two looks at the clock. */
const STEP_CHARS = 8 * 1024;

let slices = 0;
/** How many slices large texts were read in (for tests: a large message did not block the loop). */
export function largeJsonSlices(): number {
  return slices;
}

export interface LargeJsonOptions {
  maxDepth: number;
  /**
   * Which values may be kept as text: asked for each value at depth <= `keepDepth` (see
   * JsonScanner's `watch`); those at least `keepFrom` characters long become RawJson.
   */
  keep: (depth: number, index: number, first: number, parentIndex: number) => boolean;
  keepDepth: number;
  keepFrom: number;
  /** The parsed rest may be at most this long, else `too-large` (it is parsed in one go). */
  skeletonMax: number;
  /** Asked between slices: true stops the work (the connection closed). */
  cancelled?: () => boolean;
  /** Tests: characters per turn instead of SLICE_MS. */
  sliceChars?: number;
}

export type LargeJsonFailure = ScanFailure | 'too-large' | 'cancelled';
export type LargeJsonResult = { ok: true; value: unknown } | { ok: false; failure: LargeJsonFailure };

/**
 * Parses `text` (from `start`) with its large chosen values kept as RawJson. Synchronous when the
 * text fits in one slice, else a promise that settles after one turn of the loop per slice.
 */
export function parseLargeJson(text: string, start: number, opts: LargeJsonOptions): LargeJsonResult | Promise<LargeJsonResult> {
  const scanner = new JsonScanner(text, { maxDepth: opts.maxDepth, watch: opts.keep, watchDepth: opts.keepDepth }, start);
  const slice = opts.sliceChars === undefined ? () => scanFor(scanner, SLICE_MS) : () => scanner.step(opts.sliceChars!);
  if (slice()) return build(text, start, scanner, opts);
  return (async () => {
    do {
      await nextTurn();
      if (opts.cancelled?.()) return { ok: false, failure: 'cancelled' } as const;
    } while (!slice());
    return build(text, start, scanner, opts);
  })();
}

/** Scans for about `ms`; true once the text is read. */
function scanFor(scanner: JsonScanner, ms: number): boolean {
  slices++;
  const until = performance.now() + ms;
  while (!scanner.step(STEP_CHARS)) if (performance.now() >= until) return false;
  return true;
}

function build(text: string, start: number, scanner: JsonScanner, opts: LargeJsonOptions): LargeJsonResult {
  if (!scanner.ok) return { ok: false, failure: scanner.failure ?? 'syntax' };
  const raws: RawJson[] = [];
  let skeleton = '';
  let from = start;
  for (const span of scanner.spans) {
    if (span.end - span.start < opts.keepFrom) continue;
    skeleton += text.slice(from, span.start) + placeholderJson(raws.length);
    raws.push(new RawJson(text.slice(span.start, span.end), span.bytes));
    from = span.end;
    if (skeleton.length > opts.skeletonMax) return { ok: false, failure: 'too-large' };
  }
  if (text.length - from + skeleton.length > opts.skeletonMax) return { ok: false, failure: 'too-large' };
  skeleton += text.slice(from);
  return { ok: true, value: raws.length ? JSON.parse(skeleton, reviveRaw(raws)) : JSON.parse(skeleton) };
}
