/** `npm run docs:options`: rewrites README's option tables from lib/config/options.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { README, withOptionTables } from './readme-options.js';

const before = readFileSync(README, 'utf8');
const after = withOptionTables(before);
if (after === before) {
  console.log('README.md: option tables already up to date');
} else {
  writeFileSync(README, after);
  console.log('README.md: option tables rewritten from lib/config/options.ts');
}
