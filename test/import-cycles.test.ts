/**
 * No import cycles among the project's sources (lib, namespaces, server, tests, bench): each module
 * can be read, tested and loaded without the ones that use it. `import type` counts too (see
 * test/helpers/import-graph.ts). And lib/transport/, the code that touches dependency internals, is
 * reached through lib/transport/index.ts only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { findCycles, reachesInto, readImportGraph, type ImportGraph } from './helpers/import-graph.js';

const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

const graphOf = (edges: Record<string, string[]>): ImportGraph =>
  new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));

describe('import cycles', () => {
  it('none among the sources tsconfig.json compiles', () => {
    const graph = readImportGraph(TSCONFIG);
    expect(graph.get('lib/service'), 'lib/service.ts and its imports were read').to.include('lib/core/hub');
    const cycles = findCycles(graph);
    expect(cycles, `import cycles:\n  ${cycles.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('finds every import on a cycle, each with its shortest way back, and nothing else', () => {
    const graph = graphOf({
      'lib/a': ['lib/b', 'lib/leaf'],
      'lib/b': ['lib/c', 'lib/a'],
      'lib/c': ['lib/a'],
      'lib/d': ['lib/d', 'lib/a'],
      'lib/leaf': [],
    });
    expect(findCycles(graph)).to.deep.equal([
      'lib/a -> lib/b -> lib/a',
      'lib/a -> lib/b -> lib/c -> lib/a',
      'lib/d -> lib/d',
    ]);
    expect(findCycles(graphOf({ 'lib/a': ['lib/b'], 'lib/b': ['lib/c'], 'lib/c': [] }))).to.deep.equal([]);
  });

  it('reads type-only imports, re-exports and dynamic imports as imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-graph-'));
    try {
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext' }, include: ['*.ts'] }));
      writeFileSync(join(dir, 'a.ts'), "import type { C } from './b.js';\nimport { readFileSync } from 'node:fs';\nexport type A = C | typeof readFileSync;\n");
      writeFileSync(join(dir, 'b.ts'), "export { type C } from './c.js';\n");
      writeFileSync(join(dir, 'c.ts'), "export type C = string;\nexport const load = () => import('./a.js');\n");
      writeFileSync(join(dir, 'd.ts'), "import './c.js';\n");
      const graph = readImportGraph(join(dir, 'tsconfig.json'));
      expect(Object.fromEntries([...graph].map(([from, to]) => [from, [...to]]))).to.deep.equal({ a: ['b'], b: ['c'], c: ['a'], d: ['c'] });
      expect(findCycles(graph)).to.deep.equal(['a -> b -> c -> a']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the transport boundary', () => {
  it('nothing outside lib/transport imports a file inside it other than lib/transport/index.ts', () => {
    const graph = readImportGraph(TSCONFIG);
    expect(graph.get('lib/service'), 'lib/service.ts imports the transport').to.include('lib/transport/index');
    const reached = reachesInto(graph, 'lib/transport', 'lib/transport/index');
    expect(reached, `import these from lib/transport/index.ts instead:\n  ${reached.join('\n  ')}\n`).to.deep.equal([]);
  });

  it('finds every import into the folder past its entry module, and nothing else', () => {
    const graph = graphOf({
      'lib/service': ['lib/transport/index', 'lib/transport/writes'],
      'lib/transport/index': ['lib/transport/writes'],
      'lib/transport/writes': ['lib/core/errors'],
      'lib/transportation': ['lib/transport/writes'],
      'test/writes.test': ['lib/transport/writes', 'lib/transport/index'],
    });
    expect(reachesInto(graph, 'lib/transport', 'lib/transport/index')).to.deep.equal([
      'lib/service -> lib/transport/writes',
      'lib/transportation -> lib/transport/writes',
      'test/writes.test -> lib/transport/writes',
    ]);
    expect(reachesInto(graphOf({ 'lib/a': ['lib/transport/index'] }), 'lib/transport', 'lib/transport/index')).to.deep.equal([]);
  });
});
