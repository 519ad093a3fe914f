/**
 * What every admin response carries, and the check that keeps another site from making an operator's
 * browser (holding cached basic credentials) disconnect a user.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServiceError } from '../core/errors.js';

/** Scripts, styles and data from this origin only; never framed; no inline script or style. */
export const ADMIN_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function setAdminHeaders(res: ServerResponse): void {
  res.setHeader('content-security-policy', ADMIN_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
}

/**
 * A state-changing admin request must come from the page itself: a JSON body (a cross-site form
 * cannot send one; a cross-site fetch with one needs a preflight, which these routes do not answer),
 * and, where the browser says so, from the same origin (Sec-Fetch-Site, Origin). FORBIDDEN otherwise.
 */
export function checkSameOrigin(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new ServiceError('FORBIDDEN', 'an admin action needs a JSON body (content-type: application/json)');
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new ServiceError('FORBIDDEN', 'an admin action must come from the admin page (Sec-Fetch-Site)');
  const origin = req.headers.origin;
  if (origin !== undefined && hostOf(origin) !== req.headers.host) throw new ServiceError('FORBIDDEN', 'an admin action must come from the admin page (Origin)');
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
