/** Whether the pretty log format may colour its lines: never into a file or a pipe unless asked. */

/** The part of a stream this looks at (a tty.WriteStream has `hasColors`; a pipe or file has neither). */
export interface LogStream {
  isTTY?: boolean;
  hasColors?: (env?: NodeJS.ProcessEnv) => boolean;
}

/** FORCE_COLOR values that turn colour on (as Node reads them: 0 and anything else turn it off). */
const FORCE_ON = new Set(['', '1', '2', '3', 'true']);

/**
 * FORCE_COLOR decides when set (also through a pipe); otherwise only a terminal gets colour,
 * and Node's own check for it honours NO_COLOR, NODE_DISABLE_COLORS and TERM=dumb.
 */
export function wantsColour(stream: LogStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined) return FORCE_ON.has(env.FORCE_COLOR);
  if (!stream.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.hasColors?.(env) ?? true;
}
