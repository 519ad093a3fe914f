#!/usr/bin/env node
/**
 * `notify`: the service from a shell. A thin layer over the client SDK (client/src): `sub` uses
 * the socket.io client, the other commands the HTTP API, `token` mints a local test JWT.
 * Exit codes: cli/exit-codes.ts (and `notify --help`).
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { disconnect } from './commands/disconnect.js';
import { history, presence, rooms } from './commands/read.js';
import { pub } from './commands/pub.js';
import { sub } from './commands/sub.js';
import { token } from './commands/token.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { printError } from './output.js';

const EPILOGUE = `Exit codes: ${EXIT.OK} done, ${EXIT.FAILURE} unexpected failure, ${EXIT.USAGE} bad arguments or input, ${EXIT.UNREACHABLE} service unreachable or no answer in time, ${EXIT.NOT_ALLOWED} not allowed (UNAUTHORIZED, FORBIDDEN, TOKEN_EXPIRED), ${EXIT.REFUSED} refused by the service (any other error code), ${EXIT.TIMEOUT} sub --timeout passed before --count messages.
Environment: NOTIFY_URL, NOTIFY_TOKEN, NOTIFY_API_KEY; token: JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE.`;

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

interface Command {
  command: string;
  describe: string;
  builder: (y: never) => unknown;
  handler: (args: never) => Promise<number>;
}

async function main(argv: string[]): Promise<number> {
  let running: Promise<number> | undefined;
  let usage: string | undefined;
  let parser = yargs(argv)
    .scriptName('notify')
    .usage('$0 <command> [options]\n\nThe notification service from a shell: follow and publish to rooms, read history and presence, mint test tokens.')
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .help('help')
    .alias('help', 'h')
    .version(version())
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      if (err) throw err;
      usage = msg;
    });
  for (const c of [sub, pub, history, presence, rooms, disconnect, token] as Command[]) {
    parser = parser.command(c.command, c.describe, c.builder as never, (args) => {
      running = c.handler(args as never);
    });
  }
  await parser.parseAsync();
  if (usage !== undefined) {
    process.stderr.write(`notify: ${usage}\n(notify --help, or notify <command> --help)\n`);
    return EXIT.USAGE;
  }
  return running ?? EXIT.OK;
}

main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    printError(err);
    process.stdout.write('', () => process.exit(exitCodeFor(err)));
  },
);
