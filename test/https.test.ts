import { expect } from 'chai';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSigned } from '../lib/http/tls.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { startService } from './helpers/service.js';

function httpsGet(url: string): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        let body = '';
        // Read the certificate now: the socket is detached from the response once it ends.
        const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint }));
      })
      .on('error', reject);
  });
}

describe('HTTPS', () => {
  let certDir: string;
  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'notify-certs-'));
  });
  after(() => rm(certDir, { recursive: true, force: true }));
  afterEach(closeAll);

  it('generates a self-signed certificate on first run, serves it, and reuses it afterwards', async () => {
    const first = await startService({ tls: { mode: 'self-signed', certDir } });
    let fingerprint: string;
    try {
      expect(first.url).to.match(/^https:/);
      const cert = new X509Certificate(await readFile(join(certDir, 'selfsigned-cert.pem')));
      expect(cert.subjectAltName).to.include('DNS:localhost').and.include('IP Address:127.0.0.1');
      const key = createPrivateKey(await readFile(join(certDir, 'selfsigned-key.pem')));
      expect(key.asymmetricKeyDetails?.modulusLength).to.be.at.least(2048);
      fingerprint = cert.fingerprint256;
      expect(first.service.tls?.fingerprint).to.equal(fingerprint);

      const res = await httpsGet(`${first.url}/healthcheck`);
      expect(res).to.include({ status: 200, body: 'OK', fingerprint });

      // A v4 client over wss and a 1.7 client over HTTPS long-polling exchange a notification.
      const [a, b] = await Promise.all([
        connect('v4', first.url, '/layout'),
        connect('v1', first.url, '/layout', { transport: 'polling' }),
      ]);
      await request(b, 'JOIN', JSON.stringify({ room: 'secure', name: 'b' }));
      const got = next(b, 'EVENT');
      await request(a, 'NOTIFY', { room: 'secure', message: 'over TLS' });
      expect((await got).message).to.equal('over TLS');
    } finally {
      await first.close();
    }
    const second = await startService({ tls: { mode: 'self-signed', certDir } });
    try {
      expect(second.service.tls?.fingerprint).to.equal(fingerprint);
      expect((await httpsGet(`${second.url}/healthcheck`)).fingerprint).to.equal(fingerprint);
    } finally {
      await second.close();
    }
  });

  it('serves the certificate given by --cert and --key', async () => {
    const material = await generateSelfSigned();
    const certFile = join(certDir, 'given-cert.pem');
    const keyFile = join(certDir, 'given-key.pem');
    await writeFile(certFile, material.cert);
    await writeFile(keyFile, material.key);
    const svc = await startService({ tls: { mode: 'files', certFile, keyFile } });
    try {
      const res = await httpsGet(`${svc.url}/healthcheck`);
      expect(res).to.include({ status: 200, fingerprint: material.fingerprint });
      const a = await connect('v2', svc.url, '/layout');
      expect(await request(a, 'JOIN', JSON.stringify({ room: 'r' }))).to.include({ ok: true });
    } finally {
      await svc.close();
    }
  });
});
