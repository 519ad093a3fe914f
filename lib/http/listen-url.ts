/** The address a person can open, from the address a server is bound to. */
import type { AddressInfo } from 'node:net';

const WILDCARDS = new Set(['0.0.0.0', '::', '::0', '']);

/**
 * `http(s)://host:port` to open in a browser or pass to a client: a wildcard bind (0.0.0.0, ::)
 * is reachable on this machine as localhost, which is also what the self-signed certificate names.
 */
export function openableUrl(addr: AddressInfo, tls: boolean): string {
  const host = WILDCARDS.has(addr.address) ? 'localhost' : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
}
