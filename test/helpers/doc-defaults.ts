/**
 * Defaults that prose repeats ("`--max-payload` bytes, default 4 MiB", "`MAX_PAYLOAD` (default
 * `4m`)"): found in markdown and compared with the options table, so docs cannot drift from it.
 */
import { isDeepStrictEqual } from 'node:util';
import { defaultMarkdown } from '../../lib/config/option-docs.js';
import { optionDefault } from '../../lib/config/option-values.js';
import { OPTIONS, OPTION_NAMES, type OptionName, type OptionSpec } from '../../lib/config/options.js';

export interface DefaultMention {
  /** The flag or variable as written. */
  name: string;
  flag: OptionName;
  value: string;
  line: number;
}

const BY_ENV = new Map<string, OptionName>(OPTION_NAMES.map((flag) => [OPTIONS[flag].env, flag]));
/** A flag or variable in a code span, then within a clause "default" and a value (code span or number with unit). */
const MENTION = /`(--[a-z][a-z-]*|[A-Z][A-Z_]{2,})`((?:(?!\. )[^`|]){0,40}?)\bdefault:?\s+(`[^`]+`|\d+(?:\.\d+)?(?:\s?(?:ms|seconds|s|minutes|min|hours|h|days|d|KiB|MiB|GiB)\b)?)(?!\s*×)/g;
const UNITS: Readonly<Record<string, string>> = { seconds: 's', minutes: 'm', min: 'm', hours: 'h', days: 'd', KiB: 'k', MiB: 'm', GiB: 'g' };

/** Every default stated next to an option of the table. */
export function defaultMentions(markdown: string): DefaultMention[] {
  const found: DefaultMention[] = [];
  for (const m of markdown.matchAll(MENTION)) {
    const name = m[1]!;
    const flag = name.startsWith('--') ? (name.slice(2) in OPTIONS ? (name.slice(2) as OptionName) : undefined) : BY_ENV.get(name);
    if (flag === undefined) continue;
    found.push({ name, flag, value: m[3]!, line: markdown.slice(0, m.index).split('\n').length });
  }
  return found;
}

/** "4 MiB" -> "4m", "2 min" -> "2m", "`15s`" -> "15s": text the option's own parser reads. */
function asTyped(value: string): string {
  if (value.startsWith('`')) return value.slice(1, -1);
  const m = /^(\d+(?:\.\d+)?)\s?(\w+)?$/.exec(value)!;
  return `${m[1]}${m[2] ? (UNITS[m[2]] ?? m[2]) : ''}`;
}

/** Whether a stated default is the table's: the same value once parsed, or the same words for a default that is not one value. */
export function agreesWithTable(flag: OptionName, value: string): boolean {
  const spec: OptionSpec = OPTIONS[flag];
  if (spec.default === undefined) return value.startsWith('`') && defaultMarkdown(flag).startsWith(value);
  try {
    return isDeepStrictEqual(spec.kind.parse(asTyped(value), `--${flag}`), optionDefault(flag));
  } catch {
    return false;
  }
}
