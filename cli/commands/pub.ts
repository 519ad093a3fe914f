/** `notify pub <namespace>/<room> <json | ->`: publishes one message, or one per line of stdin. */
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import { api, withCommon, type CommonArgs } from '../common.js';
import { EXIT, UsageError, exitCodeFor } from '../exit-codes.js';
import { output, printError } from '../output.js';
import { parseTarget } from '../target.js';

interface PubArgs extends CommonArgs {
  target: string;
  message: string;
  store: boolean;
  text: boolean;
}

export const pub = {
  command: 'pub <target> <message>',
  describe: 'publish a JSON message to a room (any namespace but trigger), or each line of stdin with -',
  builder: (y: Argv) =>
    withCommon(y)
      .positional('target', { type: 'string', describe: '<namespace>/<room>' })
      .positional('message', { type: 'string', describe: 'a JSON value, or - to read one message per line from stdin' })
      .option('store', { type: 'boolean', default: false, describe: 'also write it to the message store (answered once committed)' })
      .option('text', { type: 'boolean', default: false, describe: 'send the message (each line) as a string, not JSON' })
      .example('$0 pub layout/ctx-42 \'{"layout":"updated"}\'', '')
      .example('tail -f events.jsonl | $0 pub bus/ops -', 'one message per line') as unknown as Argv<PubArgs>,
  handler: (args: PubArgs): Promise<number> => run(args),
};

function parse(line: string, text: boolean, where: string): unknown {
  if (text) return line;
  try {
    return JSON.parse(line);
  } catch {
    throw new UsageError(`${where} is not JSON (use --text to send text, or quote it: '"hi"')`);
  }
}

async function run(args: PubArgs): Promise<number> {
  const { namespace, room } = parseTarget(args.target);
  const client = api(args);
  const out = output(args.json);
  const send = async (message: unknown) => {
    const r = await client.publish(namespace, room, message, { store: args.store });
    out.record(r, () => `offset ${r.offset}, ${r.recipients} recipient${r.recipients === 1 ? '' : 's'}`);
  };
  // yargs reads a lone `-` as an empty string.
  if (args.message !== '-' && args.message !== '') {
    await send(parse(args.message, args.text, 'the message'));
    return EXIT.OK;
  }
  // Lines in order, one at a time (each waits for its answer); a failed line is reported and the
  // rest still sent; the exit code is the first failure's.
  let code: number = EXIT.OK;
  let n = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    n++;
    if (line.trim() === '') continue;
    try {
      await send(parse(line, args.text, `line ${n}`));
    } catch (err) {
      printError(err);
      if (code === EXIT.OK) code = exitCodeFor(err);
    }
  }
  return code;
}
