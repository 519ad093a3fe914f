import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import type { TlsConfig } from '../config/index.js';
import type { Logger } from '../log/logger.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate, colon-separated hex. */
  fingerprint: string;
}

const CERT_FILE = 'selfsigned-cert.pem';
const KEY_FILE = 'selfsigned-key.pem';

/** Loads the configured certificate, or creates a self-signed one once and reuses it later. */
export async function loadTls(tls: TlsConfig, logger: Logger): Promise<TlsMaterial | undefined> {
  if (tls.mode === 'off') return undefined;
  if (tls.mode === 'files') {
    const [cert, key] = await Promise.all([readFile(tls.certFile, 'utf8'), readFile(tls.keyFile, 'utf8')]);
    return { cert, key, fingerprint: new X509Certificate(cert).fingerprint256 };
  }
  const material = (await readExisting(tls.certDir)) ?? (await generate(tls.certDir, logger));
  logger.warn('serving HTTPS with a self-signed certificate: clients need rejectUnauthorized: false', {
    fingerprintSha256: material.fingerprint,
    certDir: tls.certDir,
  });
  return material;
}

async function readExisting(dir: string): Promise<TlsMaterial | undefined> {
  try {
    const [cert, key] = await Promise.all([
      readFile(join(dir, CERT_FILE), 'utf8'),
      readFile(join(dir, KEY_FILE), 'utf8'),
    ]);
    const x509 = new X509Certificate(cert);
    // An expired certificate is replaced rather than served.
    if (Date.parse(x509.validTo) <= Date.now()) return undefined;
    return { cert, key, fingerprint: x509.fingerprint256 };
  } catch {
    return undefined;
  }
}

/** A self-signed certificate for localhost and 127.0.0.1 (and ::1), RSA 2048, SHA-256, one year. */
export async function generateSelfSigned(): Promise<TlsMaterial> {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

async function generate(dir: string, logger: Logger): Promise<TlsMaterial> {
  const material = await generateSelfSigned();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, KEY_FILE), material.key, { mode: 0o600 });
  await writeFile(join(dir, CERT_FILE), material.cert, { mode: 0o644 });
  logger.info('generated a self-signed certificate', { certDir: dir });
  return material;
}
