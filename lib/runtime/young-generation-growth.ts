/**
 * When V8's young generation may grow (lib/runtime/young-generation.ts holds it at 1 MB semi-spaces
 * from the start).
 *
 * Held small, a connect burst costs less (every new connection survives its scavenges, and bigger
 * semi-spaces only copy it more, then stay in RSS: ~1.8 KiB per idle connection at 10k) and less
 * CPU per connect. Under message load it is the other way round: a scavenge every ~100 ms, most
 * of whose cost does not depend on the young generation's size, where 16 MB semi-spaces would need
 * a few a second. So the young generation is held until this node first carries
 * GROWTH_DELIVERIES_PER_SECOND deliveries in one second (the hub counts them), then V8 sizes it as
 * it does by default, for the rest of the process's life (measured: docs/PERFORMANCE.md, "Eighth
 * look").
 *
 * No side effect on import: only the CLI entry holds the young generation (process-wide flags are
 * not a library's to set), so a service embedded elsewhere counts nothing.
 */
import v8 from 'node:v8';

/** Deliveries in one second that let the young generation grow. */
export const GROWTH_DELIVERIES_PER_SECOND = 1000;

type SetFlags = (flags: string) => void;

/** Set while the young generation is held: how flags are set (a test passes its own). */
let release: SetFlags | undefined;
let windowStart = 0;
let inWindow = 0;

/** Holds the young generation at its initial size until enough deliveries (see the header). */
export function holdYoungGeneration(setFlags: SetFlags = (flags) => v8.setFlagsFromString(flags)): void {
  setFlags('--semi-space-growth-factor=1');
  release = setFlags;
  windowStart = 0;
  inWindow = 0;
}

/** Whether the young generation is still held. */
export function youngGenerationHeld(): boolean {
  return release !== undefined;
}

/** `n` messages written to members; past the rate, V8's default growth (factor 2) is back. Cheap when not held. */
export function noteDeliveries(n: number): void {
  if (release === undefined || n === 0) return;
  const now = performance.now();
  if (now - windowStart >= 1000) {
    windowStart = now;
    inWindow = 0;
  }
  inWindow += n;
  if (inWindow < GROWTH_DELIVERIES_PER_SECOND) return;
  const setFlags = release;
  release = undefined;
  setFlags('--semi-space-growth-factor=2');
}
