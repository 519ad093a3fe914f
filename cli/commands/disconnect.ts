/** `notify disconnect <user>`: closes every connection of a user, optionally blocking it. */
import type { Argv } from 'yargs';
import { api, withCommon, type CommonArgs } from '../common.js';
import { EXIT } from '../exit-codes.js';
import { output } from '../output.js';

interface DisconnectArgs extends CommonArgs {
  user: string;
  block?: string;
}

export const disconnect = {
  command: 'disconnect <user>',
  describe: 'close every connection of a user on every node (API key)',
  builder: (y: Argv) =>
    withCommon(y)
      .positional('user', { type: 'string', describe: 'the token\'s sub' })
      .option('block', { type: 'string', describe: 'refuse its new connections this long (30s, 10m, 2h, 7d)' }) as unknown as Argv<DisconnectArgs>,
  async handler(args: DisconnectArgs): Promise<number> {
    const n = await api(args).disconnect(args.user, args.block === undefined ? {} : { block: args.block });
    output(args.json).record({ disconnected: n }, () => `${n} connection${n === 1 ? '' : 's'} closed`);
    return EXIT.OK;
  },
};
