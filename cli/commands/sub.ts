/**
 * `notify sub <namespace>/<room>…`: prints each message of the rooms as it arrives, once and in
 * order across reconnects, until interrupted, `--count` messages, or a refusal. `layout` and `bus`
 * rooms are followed with the socket.io client (JOIN, presence notices), the other namespaces'
 * as Server-Sent Events (GET /events/:namespace/:room).
 */
import type { Argv } from 'yargs';
import { createClient } from '../../client/src/client.js';
import { FetchEventSource } from '../../client/src/fetch-event-source.js';
import { createSseClient } from '../../client/src/sse.js';
import type { NotifyError } from '../../client/src/errors.js';
import type { ResetEvent } from '../../client/src/cursor.js';
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
  describe: 'print the messages of rooms as they arrive (any namespace: layout/<room>, chat/<room>, ...)',
  builder: (y: Argv) =>
    withCommon(y)
      .positional('targets', { type: 'string', array: true, describe: '<namespace>/<room>: layout and bus over socket.io, the others over SSE' })
      .option('count', { type: 'number', describe: 'exit (0) after this many messages' })
      .option('timeout', { type: 'number', describe: `seconds: exit (${EXIT.TIMEOUT}) if --count messages have not arrived by then` })
      .option('since', { type: 'string', describe: 'resume after <epoch>:<offset> (one room only): missed messages first' })
      .option('presence', { type: 'boolean', default: false, describe: 'also print members joining and leaving (layout, bus)' })
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
  const since = parseSince(args.since);
  if (since && targets.length !== 1) throw new UsageError('--since names one room\'s position: give one room');
  const out = output(args.json);
  const token = args.token ? { token: args.token } : {};
  const client = createClient(args.url, { ...token, ...(args.name ? { name: args.name } : {}) });
  const sse = createSseClient(args.url, { ...token, ...(args.name ? { name: args.name } : {}), EventSource: FetchEventSource });
  const closers: Array<() => void> = [() => client.close()];
  let received = 0;
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      for (const close of closers) close();
      resolve(code);
    };
    const fail = (err: NotifyError) => {
      printError(err);
      finish(exitCodeFor(err));
    };
    const counted = () => {
      if (args.count !== undefined && ++received >= args.count) finish(EXIT.OK);
    };
    // Refused connects: a bad token will not get better; a temporary refusal is retried by the client.
    const unlessTemporary = (err: NotifyError) => {
      if (!err.temporary) fail(err);
    };
    client.on('error', unlessTemporary);
    if (args.timeout !== undefined) setTimeout(() => finish(EXIT.TIMEOUT), args.timeout * 1000).unref();
    process.once('SIGINT', () => finish(EXIT.OK));
    process.once('SIGTERM', () => finish(EXIT.OK));
    const onReset = (namespace: string, room: string) => (e: ResetEvent) =>
      out.record({ event: 'reset', namespace, ...e }, () => `${namespace}/${room}: messages may be missing (${e.reason}); going on from ${e.position ? `offset ${e.position.offset}` : 'the next message'}`);
    for (const { namespace, room } of targets) {
      if (!ROOM_NAMESPACES.has(namespace)) {
        const lastEventId = since ? `${since.epoch}:${since.offset}` : undefined;
        const stream = sse.follow(
          namespace,
          room,
          (m) => {
            if (done) return;
            out.record({ event: 'message', namespace, room, name: m.event, id: m.id, data: m.data }, () => `${namespace}/${room} ${m.id ? `#${m.id.slice(m.id.lastIndexOf(':') + 1)} ` : ''}${m.event}: ${show(m.data)}`);
            counted();
          },
          lastEventId ? { lastEventId } : {},
        );
        closers.push(() => stream.close());
        stream.on('reset', onReset(namespace, room));
        stream.on('error', unlessTemporary);
        continue;
      }
      const subscription = client.subscribe(
        room,
        (m) => {
          if (done) return;
          out.record({ event: 'message', namespace, ...m }, () => `${namespace}/${m.room} #${m.meta.offset} ${m.sender}: ${show(m.message)}`);
          counted();
        },
        { namespace: namespace as RoomNamespace, presence: args.presence, ...(since ? { since } : {}) },
      );
      subscription.on('reset', onReset(namespace, room));
      subscription.on('joined', (n) => out.record({ event: 'joined', namespace, ...n }, () => `${namespace}/${room}: ${n.name} joined`));
      subscription.on('left', (n) => out.record({ event: 'left', namespace, ...n }, () => `${namespace}/${room}: ${n.name} left`));
      subscription.ready.catch(fail);
    }
  });
}
