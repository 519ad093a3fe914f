/** Config test tables: every bad value must be a ConfigError naming its flag. */
import { expect } from 'chai';
import { buildConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/core/errors.js';

type FlagName = Parameters<Parameters<typeof buildConfig>[0]>[0];

export function itRefusesEachBadValue(cases: ReadonlyArray<readonly [FlagName, string]>): void {
  for (const [flag, value] of cases) {
    it(`refuses --${flag} "${value}" with a ConfigError naming the flag`, () => {
      expect(() => buildConfig((f) => (f === flag ? value : undefined)))
        .to.throw(ConfigError)
        .with.property('message')
        .that.includes(`--${flag}`);
    });
  }
}
