/**
 * GET /openapi.json stays true: it documents exactly the routes the service serves (its route
 * table, lib/http/routes.ts), each documented route and method is served (not NOT_FOUND), and the
 * status a request without credentials and one with the API key get are among those documented.
 * Where python's openapi-spec-validator is installed, the document is also validated by it.
 */
import { expect } from 'chai';
import { Validator } from '@seriousme/openapi-schema-validator';
import { secretAuth } from './helpers/auth.js';
import { serviceForSuite } from './helpers/service.js';

const svc = serviceForSuite({ auth: secretAuth({ apiKeys: ['k'] }) });

/** A documented path made concrete: a namespace that takes messages, any room or user. */
const concrete = (path: string): string => path.replace('{namespace}', 'layout').replace(/\{\w+\}/g, 'some-1');

describe('GET /openapi.json', () => {
  let doc: any;
  before(async () => {
    const res = await fetch(`${svc.url}/openapi.json`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    doc = await res.json();
  });

  it('is an OpenAPI 3.1 document whose paths and methods are exactly the served routes', () => {
    expect(doc.openapi).to.equal('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const served = svc.service.httpHandler.routes.flatMap((r) => r.methods.map((m) => `${m} ${r.path}`));
    expect([...documented].sort()).to.deep.equal([...served].sort());
  });

  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator, the official JSON schemas)', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as Parameters<Validator['validate']>[0]);
    expect(result.valid, JSON.stringify(result.errors)).to.equal(true);
    expect(validator.version).to.equal('3.1');
  });

  it('each documented route is served, answering a status it documents with and without the API key', async () => {
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const headers of [{}, { 'x-api-key': 'k' }] as Record<string, string>[]) {
          const m = method.toUpperCase();
          const res = await fetch(svc.url + concrete(path), { method: m, headers, body: m === 'POST' ? '{}' : undefined });
          const what = `${m} ${path} ${JSON.stringify(headers)}: ${res.status}`;
          if (res.headers.get('content-type')?.startsWith('text/event-stream')) await res.body?.cancel();
          else {
            const text = await res.text();
            expect(text.includes('"NOT_FOUND"') && !text.includes('no namespace'), `${what} ${text}`).to.equal(false);
          }
          expect(Object.keys(op.responses), what).to.include(String(res.status));
        }
      }
    }
  });
});
