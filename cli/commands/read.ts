/** The read-only commands over the HTTP API: `history`, `presence`, `rooms`. */
import type { Argv } from 'yargs';
import { api, withCommon, type CommonArgs } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { output, show } from '../output.js';
import { parseTarget } from '../target.js';

interface HistoryArgs extends CommonArgs {
  target: string;
  limit?: number;
  since?: string;
}

export const history = {
  command: 'history <target>',
  describe: 'print a room\'s recent (and stored) messages, oldest first',
  builder: (y: Argv) =>
    withCommon(y)
      .positional('target', { type: 'string', describe: '<namespace>/<room>' })
      .option('limit', { type: 'number', describe: 'the newest N (1-1000, default 100)' })
      .option('since', { type: 'string', describe: 'only those after <epoch>:<offset>' }) as unknown as Argv<HistoryArgs>,
  async handler(args: HistoryArgs): Promise<number> {
    const { namespace, room } = parseTarget(args.target);
    const messages = await api(args).history<Record<string, unknown>>(namespace, room, { limit: args.limit, since: args.since });
    const out = output(args.json);
    for (const m of messages) {
      const meta = m.meta as { offset?: number } | undefined;
      const body = 'message' in m ? m.message : 'payload' in m ? m.payload : 'content' in m ? m.content : m;
      out.record(m, () => `#${meta?.offset ?? '?'} ${show(m.sender ?? m.from ?? '')}: ${show(body)}`);
    }
    return EXIT.OK;
  },
};

interface PresenceArgs extends CommonArgs {
  target: string;
}

export const presence = {
  command: 'presence <target>',
  describe: 'list the members of a room on every node',
  builder: (y: Argv) => withCommon(y).positional('target', { type: 'string', describe: '<namespace>/<room>' }) as unknown as Argv<PresenceArgs>,
  async handler(args: PresenceArgs): Promise<number> {
    const { namespace, room } = parseTarget(args.target);
    const out = output(args.json);
    for (const m of await api(args).presence(namespace, room)) out.record(m, () => `${m.name}\t${m.user ?? '-'}\t${m.protocol}\t${m.id}`);
    return EXIT.OK;
  },
};

interface RoomsArgs extends CommonArgs {
  namespace?: string;
  prefix?: string;
  limit?: number;
}

export const rooms = {
  command: 'rooms',
  describe: 'list the rooms that have members (API key), every page',
  builder: (y: Argv) =>
    withCommon(y)
      .option('namespace', { type: 'string', describe: 'only this namespace (layout, bus, ...)' })
      .option('prefix', { type: 'string', describe: 'only rooms whose name starts with this' })
      .option('limit', { type: 'number', describe: 'at most this many rooms' }) as unknown as Argv<RoomsArgs>,
  async handler(args: RoomsArgs): Promise<number> {
    const client = api(args);
    const out = output(args.json);
    let cursor: string | undefined;
    let left = args.limit ?? Infinity;
    do {
      const page = await client.rooms({ namespace: args.namespace, prefix: args.prefix, limit: Math.min(left, 1000), cursor });
      for (const r of page.rooms.slice(0, left)) out.record(r, () => `${r.namespace}/${r.room}\t${r.members}`);
      left -= page.rooms.length;
      cursor = page.next ?? undefined;
    } while (cursor !== undefined && left > 0);
    return EXIT.OK;
  },
};
