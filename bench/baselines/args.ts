/**
 * The two flags the baseline servers take (`--port`, `--host`), defaulting to what the harness
 * needs: any free port, loopback only. They print `{"port":N}` on stdout once listening.
 */
import { parseArgs } from 'node:util';

export function listenArgs(): { port: number; host: string } {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
  return { port: Number(values.port), host: values.host! };
}

export function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

/** SIGTERM/SIGINT end the process at once: the harness has taken its readings by then. */
export function exitOnSignals(): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
}
