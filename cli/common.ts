/** The options every command that talks to the service shares, with their environment variables. */
import type { Argv } from 'yargs';
import { createApi, type NotifyApi } from '../client/src/api.js';
import { UsageError } from './exit-codes.js';

export interface CommonArgs {
  url: string;
  token?: string;
  'api-key'?: string;
  json: boolean;
}

export function withCommon<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .option('url', { type: 'string', default: process.env.NOTIFY_URL || 'http://localhost:3000', describe: 'the service (env NOTIFY_URL)' })
    .option('token', { type: 'string', default: process.env.NOTIFY_TOKEN || undefined, describe: 'a user\'s token (env NOTIFY_TOKEN)' })
    .option('api-key', { type: 'string', default: process.env.NOTIFY_API_KEY || undefined, describe: 'an API key for the HTTP API (env NOTIFY_API_KEY)' })
    .option('json', { type: 'boolean', default: !process.stdout.isTTY, describe: 'JSON lines (the default when stdout is not a terminal)' }) as Argv<T & CommonArgs>;
}

export function api(args: CommonArgs): NotifyApi {
  try {
    new URL(args.url);
  } catch {
    throw new UsageError(`--url ${args.url} is not a URL`);
  }
  return createApi(args.url, { apiKey: args['api-key'], token: args.token });
}
