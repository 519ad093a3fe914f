/**
 * README's option tables: each sits between two marker comments, one pair per group of the options
 * table, and is written from lib/config/options.ts (never edited by hand).
 */
import { optionsTable } from '../lib/config/option-docs.js';
import type { OptionGroup } from '../lib/config/options.js';

export const README = new URL('../../README.md', import.meta.url);
export const GROUPS: readonly OptionGroup[] = ['service', 'auth', 'abuse'];

const startMarker = (group: OptionGroup): string => `<!-- options:${group} (generated from lib/config/options.ts by npm run docs:options) -->`;
const endMarker = (group: OptionGroup): string => `<!-- /options:${group} -->`;

/** Where a group's table is: the text between its markers. */
function block(markdown: string, group: OptionGroup): { from: number; to: number } {
  const start = markdown.indexOf(startMarker(group));
  const end = markdown.indexOf(endMarker(group));
  if (start === -1 || end === -1 || end < start || markdown.indexOf(startMarker(group), start + 1) !== -1) {
    throw new Error(`README.md must hold "${startMarker(group)}" once, followed by "${endMarker(group)}"`);
  }
  return { from: start + startMarker(group).length, to: end };
}

/** The table README holds now for a group. */
export function readmeTable(markdown: string, group: OptionGroup): string {
  const { from, to } = block(markdown, group);
  return markdown.slice(from, to).trim();
}

/** README with every group's table written from the options table. */
export function withOptionTables(markdown: string): string {
  let text = markdown;
  for (const group of GROUPS) {
    const { from, to } = block(text, group);
    text = `${text.slice(0, from)}\n${optionsTable(group)}\n${text.slice(to)}`;
  }
  return text;
}
