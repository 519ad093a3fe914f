/**
 * `notify token`: mints an HS256 test JWT with the service's secret, for local work and scripts
 * (a real deployment gets its tokens from its identity provider).
 */
import { SignJWT } from 'jose';
import type { Argv } from 'yargs';
import { EXIT, UsageError } from '../exit-codes.js';

interface TokenArgs {
  sub: string;
  name?: string;
  rooms: string[];
  subscribe?: string[];
  publish?: string[];
  expires: string;
  'jwt-secret'?: string;
  iss?: string;
  aud?: string;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `10m`, `2h`, `7d` → seconds. */
export function seconds(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match) throw new UsageError(`--expires ${text} is not a duration (90s, 10m, 2h, 7d)`);
  return Number(match[1]) * UNITS[match[2] || 's']!;
}

export const token = {
  command: 'token',
  describe: 'mint a test JWT (HS256) with the service\'s --jwt-secret',
  builder: (y: Argv) =>
    y
      .option('sub', { type: 'string', demandOption: true, describe: 'the user' })
      .option('name', { type: 'string', describe: 'display name claim' })
      .option('rooms', { type: 'string', array: true, default: [] as string[], describe: 'room patterns to subscribe and publish (* any run of characters)' })
      .option('subscribe', { type: 'string', array: true, describe: 'room patterns to subscribe only' })
      .option('publish', { type: 'string', array: true, describe: 'room patterns to publish only' })
      .option('expires', { type: 'string', default: '1h', describe: 'lifetime (90s, 10m, 2h, 7d)' })
      .option('jwt-secret', { type: 'string', default: process.env.JWT_SECRET || undefined, describe: 'the service\'s secret (env JWT_SECRET)' })
      .option('iss', { type: 'string', default: process.env.JWT_ISSUER || undefined, describe: 'iss claim (env JWT_ISSUER)' })
      .option('aud', { type: 'string', default: process.env.JWT_AUDIENCE || undefined, describe: 'aud claim (env JWT_AUDIENCE)' })
      .example('$0 token --sub alice --rooms \'ctx-*\'', '') as unknown as Argv<TokenArgs>,
  async handler(args: TokenArgs): Promise<number> {
    const secret = args['jwt-secret'];
    if (!secret) throw new UsageError('--jwt-secret (or JWT_SECRET) is needed to sign the token');
    const claims: Record<string, unknown> = {
      rooms: { subscribe: [...args.rooms, ...(args.subscribe ?? [])], publish: [...args.rooms, ...(args.publish ?? [])] },
    };
    if (args.name !== undefined) claims.name = args.name;
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(args.sub)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000 + seconds(args.expires)));
    if (args.iss !== undefined) jwt = jwt.setIssuer(args.iss);
    if (args.aud !== undefined) jwt = jwt.setAudience(args.aud);
    process.stdout.write(`${await jwt.sign(new TextEncoder().encode(secret))}\n`);
    return EXIT.OK;
  },
};
