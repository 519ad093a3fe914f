/**
 * The options table (lib/config/options.ts) and what people read agree: README's option tables are
 * exactly what `npm run docs:options` writes, and every default repeated in prose or in the
 * deployment files is the table's.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { defaultMarkdown, helpLine, optionsTable } from '../lib/config/option-docs.js';
import { optionDefault } from '../lib/config/option-values.js';
import { OPTIONS, OPTION_NAMES } from '../lib/config/options.js';
import { GROUPS, readmeTable, withOptionTables } from '../scripts/readme-options.js';
import { agreesWithTable, defaultMentions } from './helpers/doc-defaults.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const PROSE = ['README.md', 'docs/PROTOCOL.md', 'docs/PERFORMANCE.md', 'deploy/README.md'];

describe('options table and docs', () => {
  it('every default of the table passes its own option\'s checks', () => {
    for (const flag of OPTION_NAMES) {
      if ((OPTIONS[flag] as { default?: string }).default !== undefined) expect(() => optionDefault(flag), `--${flag}`).to.not.throw();
    }
  });

  for (const group of GROUPS) {
    it(`README's ${group} option table is the one lib/config/options.ts gives (else run npm run docs:options)`, () => {
      expect(readmeTable(read('README.md'), group).split('\n'), `README.md's ${group} option table differs from lib/config/options.ts: run \`npm run docs:options\``)
        .to.deep.equal(optionsTable(group).split('\n'));
    });
  }

  it('the tables list every option once, with its variable, default and help; --help shows the same', () => {
    const tables = GROUPS.map((group) => optionsTable(group)).join('\n');
    for (const flag of OPTION_NAMES) {
      const rows = tables.split('\n').filter((row) => row.startsWith(`| \`--${flag}\``));
      expect(rows, `--${flag}`).to.have.length(1);
      expect(rows[0]).to.include(`| \`${OPTIONS[flag].env}\``).and.include(`| ${defaultMarkdown(flag)} |`).and.include(OPTIONS[flag].help);
      expect(helpLine(flag)).to.match(new RegExp(`^\\[env ${OPTIONS[flag].env}\\] .* \\[default .+\\]$`));
    }
  });

  it('npm run docs:options rewrites only what lies between the markers, and refuses a README without them', () => {
    const markers = GROUPS.map((g) => `<!-- options:${g} (generated from lib/config/options.ts by npm run docs:options) -->\n| stale |\n<!-- /options:${g} -->`);
    const written = withOptionTables(`# title\n\n${markers.join('\n\ntext\n\n')}\n\nend\n`);
    expect(written.startsWith('# title\n\n<!-- options:service')).to.equal(true);
    expect(written.endsWith('<!-- /options:abuse -->\n\nend\n')).to.equal(true);
    expect(written).to.not.include('| stale |');
    for (const group of GROUPS) expect(readmeTable(written, group)).to.equal(optionsTable(group));
    expect(() => withOptionTables('# no markers')).to.throw(/options:service/);
  });

  it('a default repeated in the docs is the table\'s', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const path of PROSE) {
      for (const { name, flag, value, line } of defaultMentions(read(path))) {
        checked++;
        if (!agreesWithTable(flag, value)) wrong.push(`${path}:${line}: ${name} default ${value}, but lib/config/options.ts says ${defaultMarkdown(flag)}`);
      }
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    // The docs state many defaults: finding few means the scan broke, not that they went away.
    expect(checked).to.be.at.least(20);
  });

  it('the scan of the docs catches a wrong default', () => {
    const mentions = defaultMentions('`--max-payload` bytes, default 8 MiB. `BYTE_RATE` (default `256k`). `--event-burst` (default 2000). `--history-max-bytes` (default `--max-payload`)');
    expect(mentions.map((m) => [m.flag, agreesWithTable(m.flag, m.value)])).to.deep.equal([
      ['max-payload', false],
      ['byte-rate', true],
      ['event-burst', false],
      ['history-max-bytes', true],
    ]);
  });

  it('deploy/docker-compose.yml passes the service\'s variables through without defaults of its own', () => {
    const compose = read('deploy/docker-compose.yml');
    const own = [...compose.matchAll(/\$\{([A-Z_]+):?-([^}]*)\}/g)].filter(([, env, fallback]) => OPTION_NAMES.some((f) => OPTIONS[f].env === env) && fallback !== '');
    expect(own.map(([text]) => text), 'use ${VAR:-}: empty means the service\'s own default').to.deep.equal([]);
  });
});
