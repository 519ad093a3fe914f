/**
 * The import graph of the project's own TypeScript sources, and the cycles in it. Every import
 * counts: `import type` too (erased at run time, but it still ties the two modules together, and
 * one edit turns it into a value import), re-exports and dynamic `import()`.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

/** module -> the modules it imports; names are paths from the project root without `.ts`. */
export type ImportGraph = Map<string, Set<string>>;

/** Reads every source file tsconfig.json compiles (declaration files aside) and its relative imports. */
export function readImportGraph(tsconfigPath: string): ImportGraph {
  const root = dirname(tsconfigPath);
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfigPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  const files = new Set(parsed!.fileNames.filter((file) => !file.endsWith('.d.ts')).map((file) => resolve(file)));
  const name = (file: string): string => relative(root, file).replace(/\.[cm]?ts$/, '');
  const graph: ImportGraph = new Map();
  for (const file of files) {
    const imports = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    const targets = imports
      .filter(({ fileName }) => fileName.startsWith('.'))
      // NodeNext: a source imports the compiled name (`./x.js`) of its sibling `./x.ts`.
      .map(({ fileName }) => resolve(dirname(file), fileName.replace(/\.([cm]?)js$/, '.$1ts')))
      .filter((target) => files.has(target));
    graph.set(name(file), new Set(targets.map(name)));
  }
  return graph;
}

/**
 * The cycles of the graph as `a -> b -> c -> a`: for every import that lies on a cycle, the
 * shortest one through it, so each such import shows at least once (listing every cycle could take
 * exponentially many). Sorted, each starting at its smallest module.
 */
export function findCycles(graph: ImportGraph): string[] {
  const component = stronglyConnected(graph);
  const cycles = new Set<string>();
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (component.get(from) !== component.get(to)) continue;
      const path = [from, ...shortestPath(graph, to, from).slice(0, -1)];
      const start = path.indexOf([...path].sort()[0]!);
      const rotated = [...path.slice(start), ...path.slice(0, start)];
      cycles.add([...rotated, rotated[0]].join(' -> '));
    }
  }
  return [...cycles].sort();
}

/** Tarjan's algorithm: module -> the number of its strongly connected component. */
function stronglyConnected(graph: ImportGraph): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const component = new Map<string, number>();
  let components = 0;
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) visit(w);
      if (!component.has(w)) low.set(v, Math.min(low.get(v)!, low.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const id = components++;
    let w: string;
    do {
      w = stack.pop()!;
      component.set(w, id);
    } while (w !== v);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return component;
}

/** The modules from `from` to `to` along imports (both ends included; `[from]` when they are one). */
function shortestPath(graph: ImportGraph, from: string, to: string): string[] {
  const previous = new Map<string, string>([[from, from]]);
  const queue = [from];
  for (let i = 0; i < queue.length && !previous.has(to); i++) {
    for (const next of graph.get(queue[i]!) ?? []) {
      if (!previous.has(next)) { previous.set(next, queue[i]!); queue.push(next); }
    }
  }
  const path = [to];
  while (path[0] !== from) path.unshift(previous.get(path[0]!)!);
  return path;
}

/**
 * Imports that reach into `folder` from outside it other than through its `entry` module, as
 * `importer -> imported`, sorted: a folder reached through one module only has none.
 */
export function reachesInto(graph: ImportGraph, folder: string, entry: string): string[] {
  const inside = (module: string): boolean => module.startsWith(`${folder}/`);
  const found: string[] = [];
  for (const [from, targets] of graph) {
    if (inside(from)) continue;
    for (const to of targets) if (inside(to) && to !== entry) found.push(`${from} -> ${to}`);
  }
  return found.sort();
}
