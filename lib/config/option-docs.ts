/**
 * How the options table is shown to people: `--help` lines (plain text) and README's option tables
 * (markdown, written by `npm run docs:options` and compared by test/options-docs.test.ts).
 */
import { OPTIONS, OPTION_NAMES, type OptionGroup, type OptionName, type OptionSpec } from './options.js';

/** Headings of the `--help` sections. */
export const GROUP_TITLES: Readonly<Record<OptionGroup, string>> = {
  service: 'Service:',
  auth: 'Authentication and authorization:',
  abuse: 'Abuse limits:',
};

/** Markdown to terminal text: code spans and links keep only their text. */
export function plainText(markdown: string): string {
  return markdown.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`([^`]*)`/g, '$1');
}

function spec(flag: OptionName): OptionSpec {
  return OPTIONS[flag];
}

export function defaultMarkdown(flag: OptionName): string {
  const { default: value, defaultText, defaultNote } = spec(flag);
  if (value === undefined) return defaultText ?? '—';
  return `\`${value}\`${defaultNote ? ` (${defaultNote})` : ''}`;
}

/** The description yargs prints after the flag; the variable first, where wrapping never splits it. */
export function helpLine(flag: OptionName): string {
  const { env, help, default: value } = spec(flag);
  const shown = value === undefined && spec(flag).defaultText === undefined ? 'none' : plainText(defaultMarkdown(flag));
  return `[env ${env}] ${plainText(help)} [default ${shown}]`;
}

/** One README table: the options of a group in table order. */
export function optionsTable(group: OptionGroup): string {
  const rows = OPTION_NAMES.filter((flag) => spec(flag).group === group).map((flag) => {
    const { alias, env, help, more, repeatable } = spec(flag);
    const names = [`\`--${flag}\``, ...(alias ? [`\`-${alias}\``] : [])].join(', ');
    const variable = `\`${env}\`${repeatable ? ' (comma-separated)' : ''}`;
    return `| ${names} | ${variable} | ${defaultMarkdown(flag)} | ${help}${more ?? ''} |`;
  });
  return ['| flag | env | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
