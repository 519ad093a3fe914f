/**
 * The command line and the environment, read through yargs with every flag of the options table:
 * the text given for each option (a flag wins over its variable; an empty variable counts as unset).
 * `--help` and `--version` print and exit; a bad flag throws ConfigError.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { ConfigError } from '../core/errors.js';
import { GROUP_TITLES, helpLine } from './option-docs.js';
import { OPTIONS, OPTION_NAMES, type OptionGroup, type OptionSpec } from './options.js';
import type { RawValues } from './option-values.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function readCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): RawValues {
  let parser = yargs([...argv])
    .scriptName('notification-service')
    .usage('$0 [options]\n\nReal-time notification service (socket.io pub/sub). Every option can also be set by the environment variable named in brackets.')
    .strict()
    .parserConfiguration({ 'camel-case-expansion': false })
    .fail((msg, err) => {
      throw new ConfigError(msg ?? err?.message ?? 'invalid arguments');
    })
    .help('help')
    .alias('help', 'h')
    .version(packageVersion())
    .alias('version', 'v')
    .wrap(Math.min(110, process.stdout.columns || 110));
  for (const flag of OPTION_NAMES) {
    const spec: OptionSpec = OPTIONS[flag];
    parser = parser.option(flag, { type: spec.kind.flagType, ...(spec.alias ? { alias: spec.alias } : {}), describe: helpLine(flag) });
  }
  for (const [group, title] of Object.entries(GROUP_TITLES) as Array<[OptionGroup, string]>) {
    parser = parser.group(OPTION_NAMES.filter((flag) => OPTIONS[flag].group === group), title);
  }
  const args = parser.parseSync() as Record<string, unknown>;

  return (flag) => {
    const cli = args[flag];
    if (cli !== undefined) {
      if (Array.isArray(cli)) {
        if ((OPTIONS[flag] as OptionSpec).repeatable) return cli.map(String).join(',');
        throw new ConfigError(`--${flag} given more than once`);
      }
      return String(cli);
    }
    const fromEnv = env[OPTIONS[flag].env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
}
