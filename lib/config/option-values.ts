/**
 * Typed access to the options' values: the given text (flag or variable) or else the table's
 * default, each parsed by its option's kind when first asked for. Asking lazily keeps the order of
 * the checks that of the code assembling the Config (e.g. "needs --auth jwt" before the secret's
 * length).
 */
import { OPTIONS, type OptionName } from './options.js';
import type { Kind } from './option-kinds.js';

/** The text given for an option (flag or environment variable), undefined when none. */
export type RawValues = (flag: OptionName) => string | undefined;

type Spec<F extends OptionName> = (typeof OPTIONS)[F];
type ValueOf<F extends OptionName> = Spec<F>['kind'] extends Kind<infer T> ? T : never;
/** An option with a default always has a value. */
export type OptionValue<F extends OptionName> = Spec<F> extends { default: string } ? ValueOf<F> : ValueOf<F> | undefined;

export interface OptionValues {
  /** Whether the option was given (flag or variable), default aside. */
  given(flag: OptionName): boolean;
  value<F extends OptionName>(flag: F): OptionValue<F>;
  /** How messages name the option: `--port (env PORT)`. */
  where(flag: OptionName): string;
}

export function where(flag: OptionName): string {
  return `--${flag} (env ${OPTIONS[flag].env})`;
}

export function optionValues(raw: RawValues): OptionValues {
  const parsed = new Map<OptionName, unknown>();
  return {
    given: (flag) => raw(flag) !== undefined,
    where,
    value<F extends OptionName>(flag: F): OptionValue<F> {
      if (!parsed.has(flag)) {
        const spec: { kind: Kind<unknown>; default?: string } = OPTIONS[flag];
        const text = raw(flag) ?? spec.default;
        parsed.set(flag, text === undefined ? undefined : spec.kind.parse(text, where(flag)));
      }
      return parsed.get(flag) as OptionValue<F>;
    },
  };
}

/** An option's default value (a fresh one at each call: relative paths resolve against the current directory). */
export function optionDefault<F extends OptionName>(flag: F): OptionValue<F> {
  return optionValues(() => undefined).value(flag);
}
