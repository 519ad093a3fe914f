/**
 * The error catalog (lib/core/errors.ts) and the protocol's error table (docs/PROTOCOL.md section 6)
 * agree both ways: every code is documented with its HTTP status, every documented code exists.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ErrorCodes } from '../lib/core/errors.js';

const PROTOCOL = new URL('../../docs/PROTOCOL.md', import.meta.url);

/** The rows of the table in "## 6. Error codes": code -> HTTP status. */
function documentedCodes(): Map<string, number> {
  const text = readFileSync(PROTOCOL, 'utf8');
  const start = text.indexOf('\n## 6. Error codes');
  expect(start, 'section "## 6. Error codes" in docs/PROTOCOL.md').to.be.greaterThan(-1);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end === -1 ? undefined : end);
  const rows = new Map<string, number>();
  for (const match of section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)) {
    expect(rows.has(match[1]!), `${match[1]} documented twice`).to.equal(false);
    rows.set(match[1]!, Number(match[2]));
  }
  return rows;
}

describe('error catalog and docs/PROTOCOL.md', () => {
  it('every code of lib/core/errors.ts is in the protocol\'s error table with its HTTP status, and every code there exists', () => {
    const documented = documentedCodes();
    const catalog = new Map(Object.entries(ErrorCodes).map(([code, { status }]) => [code, status]));
    expect([...catalog.keys()].filter((code) => !documented.has(code)), 'codes missing from docs/PROTOCOL.md').to.deep.equal([]);
    expect([...documented.keys()].filter((code) => !catalog.has(code)), 'documented codes not in lib/core/errors.ts').to.deep.equal([]);
    for (const [code, status] of catalog) expect(documented.get(code), `HTTP status of ${code}`).to.equal(status);
  });
});
