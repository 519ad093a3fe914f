/**
 * The client SDK as a package: its own tsconfig builds ESM with declarations for browsers (DOM
 * types, no Node.js types), every export of client/package.json exists in that build and loads,
 * and the browser bundles stay small: the socket.io entry under 20 KiB gzipped beyond
 * socket.io-client, the /sock, SSE and HTTP entries with no dependency at all.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { build } from 'esbuild';
import { readImportGraph } from './helpers/import-graph.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLIENT = join(ROOT, 'client');
const BUDGET = 20 * 1024;

interface Exports {
  [path: string]: { types: string; import: string };
}

describe('client SDK package', function () {
  this.timeout(120_000);
  const out = join(ROOT, '.tmp-dist', `client-${process.pid}`);
  before(() => mkdirSync(out, { recursive: true }));
  after(() => rmSync(out, { recursive: true, force: true }));

  it('builds with its own tsconfig (DOM, no Node.js types); every export has its .js and .d.ts and loads', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await promisify(execFile)(process.execPath, [tsc, '-p', join(CLIENT, 'tsconfig.json'), '--outDir', out, '--sourceMap', 'false']);
    const pkg = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8')) as { name: string; exports: Exports; type: string };
    expect(pkg).to.include({ name: '@notification-service/client', type: 'module' });
    const built = (file: string) => join(out, file.replace(/^\.\/dist\//, ''));
    for (const [entry, { types, import: js }] of Object.entries(pkg.exports)) {
      expect(existsSync(built(types)), `${entry} types ${types}`).to.equal(true);
      expect(existsSync(built(js)), `${entry} module ${js}`).to.equal(true);
      const mod = (await import(pathToFileURL(built(js)).href)) as Record<string, unknown>;
      expect(mod.NotifyError, `${entry} exports NotifyError`).to.be.a('function');
    }
    expect(readFileSync(built('./dist/index.d.ts'), 'utf8')).to.include('NotifyErrorCode');
  });

  it('stands apart from the service: client/src imports only itself, cli/ only itself and client/src', () => {
    const graph = readImportGraph(join(ROOT, 'tsconfig.json'));
    const outside = (prefix: string, allowed: string[]) =>
      [...graph].filter(([from]) => from.startsWith(prefix)).flatMap(([from, to]) => [...to].filter((t) => !allowed.some((a) => t.startsWith(a))).map((t) => `${from} -> ${t}`));
    expect(graph.has('client/src/index'), 'client/src is compiled by tsconfig.json').to.equal(true);
    expect(outside('client/src/', ['client/src/'])).to.deep.equal([]);
    expect(outside('cli/', ['cli/', 'client/src/'])).to.deep.equal([]);
  });

  for (const [entry, external, budget] of [
    ['index.ts', ['socket.io-client'], BUDGET],
    ['sock.ts', [], BUDGET / 2],
    ['sse.ts', [], BUDGET / 2],
    ['api.ts', [], BUDGET / 4],
  ] as Array<[string, string[], number]>) {
    it(`${entry}: a minified browser bundle under ${budget / 1024} KiB gzipped${external.length ? ` beyond ${external.join(', ')}` : ', importing nothing'}`, async () => {
      const result = await build({
        entryPoints: [join(CLIENT, 'src', entry)],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2020',
        minify: true,
        write: false,
        metafile: true,
        external,
        logLevel: 'silent',
      });
      const code = result.outputFiles[0]!.contents;
      const gzipped = gzipSync(code).length;
      expect(gzipped, `${entry}: ${code.length} bytes, ${gzipped} gzipped`).to.be.below(budget);
      // Only the SDK's own files went in; only the allowed packages are left as imports.
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.filter((file) => !file.startsWith('client/src/') && !file.includes('/client/src/'))).to.deep.equal([]);
      const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
      expect([...new Set(imports)]).to.deep.equal(external);
    });
  }
});
