/**
 * The sliced JSON validator must accept exactly what JSON.parse accepts, whatever the slices it is
 * read in, and refuse nesting past its limit; large chosen values come back as their exact text.
 */
import { expect } from 'chai';
import { JsonScanner } from '../lib/json/json-scanner.js';
import { parseLargeJson } from '../lib/json/large-json.js';
import { RawJson, rawJsonFallbackParses, stringifyWithRaw } from '../lib/json/raw-json.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'é', '\u2028', '\ud83d\ude00', '"', '\\', '/', '\b', '\n', '\u0001', '\u001f', ' ', '[', '{', '0'];
const NUMBERS = ['0', '-0', '1', '-12', '3.25', '1e5', '1E+2', '-2.5e-3', '0.0', '123456789012345678901234567890', '1e400'];
const SPACES = ['', ' ', '\n', '\t', '\r\n  '];

/** A random valid JSON text, written by hand (odd spacing, escapes, number forms JSON.stringify never makes). */
function randomJson(r: () => number, depth = 0): string {
  const ws = (): string => SPACES[Math.floor(r() * SPACES.length)]!;
  const pick = r();
  if (depth < 5 && pick < 0.2) {
    const n = Math.floor(r() * 4);
    return `[${ws()}${Array.from({ length: n }, () => ws() + randomJson(r, depth + 1) + ws()).join(',')}]`;
  }
  if (depth < 5 && pick < 0.4) {
    const n = Math.floor(r() * 4);
    return `{${ws()}${Array.from({ length: n }, () => `${ws()}${randomString(r)}${ws()}:${ws()}${randomJson(r, depth + 1)}${ws()}`).join(',')}}`;
  }
  if (pick < 0.65) return randomString(r);
  if (pick < 0.9) return NUMBERS[Math.floor(r() * NUMBERS.length)]!;
  return ['true', 'false', 'null'][Math.floor(r() * 3)]!;
}

function randomString(r: () => number): string {
  let s = '';
  for (let n = Math.floor(r() * 6); n > 0; n--) s += PIECES[Math.floor(r() * PIECES.length)];
  const json = JSON.stringify(s);
  // Sometimes with escapes JSON.stringify would not write (\/, \u00e9).
  return r() < 0.3 ? json.replace(/é/g, '\\u00e9').replace(/\//g, '\\/') : json;
}

const MUTATIONS = ['', '"', '\\', ',', ':', '[', ']', '{', '}', '0', '-', '.', 'e', '+', ' ', 'x', 't', 'n', '\u0000', '\\u12', '\ufeff'];

/** A single random edit: delete, insert or replace a character, or cut the text. */
function mutate(r: () => number, text: string): string {
  const at = Math.floor(r() * (text.length + 1));
  const piece = MUTATIONS[Math.floor(r() * MUTATIONS.length)]!;
  const kind = r();
  if (kind < 0.3) return text.slice(0, at) + text.slice(at + 1);
  if (kind < 0.6) return text.slice(0, at) + piece + text.slice(at);
  if (kind < 0.9) return text.slice(0, at) + piece + text.slice(at + 1);
  return text.slice(0, at);
}

function jsonParseAccepts(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The scanner's verdict, read in slices of `slice` characters. */
function scannerAccepts(text: string, slice: number, maxDepth = 1000): boolean {
  const scanner = new JsonScanner(text, { maxDepth });
  while (!scanner.step(slice));
  return scanner.ok;
}

describe('JSON scanner (sliced validation)', () => {
  it('accepts exactly what JSON.parse accepts, in any slices (20 000 random texts and edits)', () => {
    const r = rng(12345);
    for (let i = 0; i < 10_000; i++) {
      const valid = SPACES[i % SPACES.length] + randomJson(r) + SPACES[(i >> 2) % SPACES.length];
      const slice = 1 + Math.floor(r() * 7);
      expect(scannerAccepts(valid, slice), `valid ${JSON.stringify(valid)} in slices of ${slice}`).to.equal(true);
      const edited = mutate(r, valid);
      expect(scannerAccepts(edited, slice), `edited ${JSON.stringify(edited)} in slices of ${slice}`).to.equal(jsonParseAccepts(edited));
    }
  });

  it('measures a value in UTF-8 bytes as it reads it (non-ASCII, surrogate pairs)', () => {
    const r = rng(777);
    for (let i = 0; i < 2000; i++) {
      const text = randomJson(r);
      const scanner = new JsonScanner(text, { maxDepth: 1000, watch: () => true, watchDepth: 0 });
      while (!scanner.step(1 + (i % 9)));
      expect(scanner.spans[0]!.bytes, JSON.stringify(text)).to.equal(Buffer.byteLength(text));
    }
  });

  it('agrees with JSON.parse on the corner cases', () => {
    const cases = ['', ' ', '01', '-', '-0', '-01', '1.', '.1', '1e', '1e+', '1E5', '1.5e-0', '"\\u00"', '"\\u00zz"', '"\\x41"', '"\u0001"', '"\u007f"', '[1,]', '[,1]', '{"a":1,}', '{,}', '{"a" 1}', '{"a":}', '{1:2}', 'tru', 'nulll', 'true false', '[]]', '[}', '{]', '\ufeff1', '"a', '"\\"', '[1 2]', '1 ', ' 1', '\u00a01', '[[]]', '{"":""}', '-', '--1', '+1', 'NaN', 'Infinity', '0x10', '"\\/"', '[\n]'];
    for (const text of cases) {
      for (const slice of [1, 2, 1000]) expect(scannerAccepts(text, slice), JSON.stringify(text)).to.equal(jsonParseAccepts(text));
    }
  });

  it('refuses nesting deeper than its limit: 64 levels pass, 65 do not', () => {
    const nested = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    expect(scannerAccepts(nested(64), 10, 64)).to.equal(true);
    const deep = new JsonScanner(nested(65), { maxDepth: 64 });
    expect(deep.step(1000)).to.equal(true);
    expect([deep.ok, deep.failure]).to.deep.equal([false, 'depth']);
    // Stops where the limit is passed: a 2-million-deep text costs 65 characters.
    const huge = new JsonScanner(nested(2_000_000), { maxDepth: 64 });
    expect(huge.step(100)).to.equal(true);
    expect(huge.failure).to.equal('depth');
  });
});

describe('large JSON (kept as text)', () => {
  const packetKeep = (depth: number, _index: number, _first: number, parentIndex: number): boolean => depth === 2 && parentIndex === 1;

  it('keeps the chosen large values as their exact text and parses the rest', async () => {
    const message = `{ "list": [${Array.from({ length: 5000 }, (_, i) => i).join(', ')}], "s": "\\u00e9\\n" }`;
    const text = `["NOTIFY",{"room":"r","message":${message},"store":true}]`;
    const result = await parseLargeJson(text, 0, { maxDepth: 65, keep: packetKeep, keepDepth: 2, keepFrom: 1024, skeletonMax: 4096 });
    const { value } = result as { ok: true; value: [string, { room: string; message: RawJson; store: boolean }] };
    expect(value[0]).to.equal('NOTIFY');
    expect(value[1].room).to.equal('r');
    expect(value[1].store).to.equal(true);
    expect(value[1].message).to.be.instanceOf(RawJson);
    expect(value[1].message.text).to.equal(message);
    expect(value[1].message.bytes).to.equal(Buffer.byteLength(message));
    // Spliced back: the same JSON as if it had been parsed, without parsing it.
    const before = rawJsonFallbackParses();
    const out = stringifyWithRaw({ event: value[0], message: value[1].message });
    expect(rawJsonFallbackParses()).to.equal(before);
    expect(JSON.parse(out)).to.deep.equal({ event: 'NOTIFY', message: JSON.parse(message) });
    // Anywhere else, JSON.stringify still gives the right JSON (by parsing: counted).
    expect(JSON.parse(JSON.stringify({ m: value[1].message }))).to.deep.equal({ m: JSON.parse(message) });
    expect(rawJsonFallbackParses()).to.equal(before + 1);
  });

  it('reads a text longer than a slice over several turns of the event loop, and can be cancelled', async () => {
    const message = `[${'1,'.repeat(200_000)}1]`;
    const text = `["NOTIFY",{"room":"r","message":${message}}]`;
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    const pending = parseLargeJson(text, 0, { maxDepth: 65, keep: packetKeep, keepDepth: 2, keepFrom: 1024, skeletonMax: 4096, sliceChars: 16 * 1024 });
    expect(pending).to.be.instanceOf(Promise);
    const result = (await pending) as { ok: true; value: [string, { message: RawJson }] };
    clearInterval(timer);
    expect(result.value[1].message.text).to.equal(message);
    expect(turns).to.be.greaterThan(0);
    let stop = false;
    const cancelled = parseLargeJson(text, 0, { maxDepth: 65, keep: packetKeep, keepDepth: 2, keepFrom: 1024, skeletonMax: 4096, sliceChars: 16 * 1024, cancelled: () => stop });
    stop = true;
    expect(await cancelled).to.deep.equal({ ok: false, failure: 'cancelled' });
  });

  it('refuses a text whose parsed rest would still be large, and reports syntax and depth failures', async () => {
    // Awaited: on a loaded machine even a short text may take more than one 1 ms slice.
    const opts = { maxDepth: 65, keep: packetKeep, keepDepth: 2, keepFrom: 1024, skeletonMax: 4096 };
    const manySmallArgs = `["NOTIFY",${'1,'.repeat(5000)}1]`;
    expect(await parseLargeJson(manySmallArgs, 0, opts)).to.deep.equal({ ok: false, failure: 'too-large' });
    expect(await parseLargeJson(`["NOTIFY",{"room":"r","message":[1,2,]}]`, 0, opts)).to.deep.equal({ ok: false, failure: 'syntax' });
    expect(await parseLargeJson(`["NOTIFY",${'['.repeat(70)}`, 0, opts)).to.deep.equal({ ok: false, failure: 'depth' });
  });
});
