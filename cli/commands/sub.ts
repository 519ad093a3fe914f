/**
 * `notify sub <namespace>/<room>…`: prints each message of the rooms (layout and bus) as it
 * arrives, once and in order across reconnects, until interrupted, `--count` messages, or a refusal.
 */
import type { Argv } from 'yargs';
import { createClient } from '../../client/src/client.js';
import type { NotifyError } from '../../client/src/errors.js';
import type { RoomNamespace } from '../../client/src/types.js';
import { withCommon, type CommonArgs } from '../common.js';
import { EXIT, UsageError, exitCodeFor } from '../exit-codes.js';
import { output, printError, show } from '../output.js';
import { parseTarget } from '../target.js';

interface SubArgs extends CommonArgs {
  targets: string[];
  count?: number;
  timeout?: number;
  since?: string;
  presence: boolean;
  name?: string;
}

const ROOM_NAMESPACES = new Set(['layout', 'bus']);

export const sub = {
  command: 'sub <targets..>',
  describe: 'print the messages of rooms as they arrive (layout/<room>, bus/<room>)',
  builder: (y: Argv) =>
    withCommon(y)
      .positional('targets', { type: 'string', array: true, describe: '<namespace>/<room>, namespace layout or bus' })
      .option('count', { type: 'number', describe: 'exit (0) after this many messages' })
      .option('timeout', { type: 'number', describe: `seconds: exit (${EXIT.TIMEOUT}) if --count messages have not arrived by then` })
      .option('since', { type: 'string', describe: 'resume after <epoch>:<offset> (one room only): missed messages first' })
      .option('presence', { type: 'boolean', default: false, describe: 'also print members joining and leaving' })
      .option('name', { type: 'string', describe: 'display name in the rooms (auth none)' })
      .example('$0 sub layout/ctx-42 --json', 'one JSON line per message') as unknown as Argv<SubArgs>,
  handler: (args: SubArgs): Promise<number> => run(args),
};

function parseSince(text: string | undefined) {
  if (text === undefined) return undefined;
  const at = text.lastIndexOf(':');
  const offset = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(offset) || offset < 0) throw new UsageError(`--since ${text} is not <epoch>:<offset>`);
  return { epoch: text.slice(0, at), offset };
}

function run(args: SubArgs): Promise<number> {
  const targets = args.targets.map(parseTarget);
  for (const t of targets) if (!ROOM_NAMESPACES.has(t.namespace)) throw new UsageError(`sub follows layout and bus rooms, not ${t.namespace}/ (use GET /events/${t.namespace}/<room>)`);
  const since = parseSince(args.since);
  if (since && targets.length !== 1) throw new UsageError('--since names one room\'s position: give one room');
  const out = output(args.json);
  const client = createClient(args.url, args.token ? { token: args.token } : {});
  let received = 0;
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      client.close();
      resolve(code);
    };
    const fail = (err: NotifyError) => {
      printError(err);
      finish(exitCodeFor(err));
    };
    // Refused connects: a bad token will not get better; a temporary refusal is retried by the client.
    client.on('error', (err) => {
      if (!err.temporary) fail(err);
    });
    if (args.timeout !== undefined) setTimeout(() => finish(EXIT.TIMEOUT), args.timeout * 1000).unref();
    process.once('SIGINT', () => finish(EXIT.OK));
    process.once('SIGTERM', () => finish(EXIT.OK));
    for (const { namespace, room } of targets) {
      const subscription = client.subscribe(
        room,
        (m) => {
          if (done) return;
          out.record({ event: 'message', namespace, ...m }, () => `${namespace}/${m.room} #${m.meta.offset} ${m.sender}: ${show(m.message)}`);
          if (args.count !== undefined && ++received >= args.count) finish(EXIT.OK);
        },
        { namespace: namespace as RoomNamespace, presence: args.presence, ...(since ? { since } : {}), ...(args.name ? { name: args.name } : {}) },
      );
      subscription.on('reset', (e) =>
        out.record({ event: 'reset', namespace, ...e }, () => `${namespace}/${room}: messages may be missing (${e.reason}); going on from offset ${e.position?.offset ?? '?'}`),
      );
      subscription.on('joined', (n) => out.record({ event: 'joined', namespace, ...n }, () => `${namespace}/${room}: ${n.name} joined`));
      subscription.on('left', (n) => out.record({ event: 'left', namespace, ...n }, () => `${namespace}/${room}: ${n.name} left`));
      subscription.ready.catch(fail);
    }
  });
}
