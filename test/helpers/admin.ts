/** Requests to the admin page (GET /admin, /admin/api/...) with basic credentials. */
export const ADMIN_PASSWORD = 'admin-password-of-tests';
export const API_KEY = 'api-key-of-the-admin-tests';

export const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
export const asAdmin = basic('admin', ADMIN_PASSWORD);

export async function adminGet(url: string, headers: Record<string, string> = asAdmin): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** The tags of an HTML text with their attributes and, for script and style, their content (enough for our own page). */
export function tagsOf(html: string): { name: string; attributes: Record<string, string>; content: string }[] {
  const tags: { name: string; attributes: Record<string, string>; content: string }[] = [];
  for (const m of html.matchAll(/<([a-zA-Z][\w-]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/g)) {
    const name = m[1]!.toLowerCase();
    const attributes: Record<string, string> = {};
    for (const a of m[2]!.matchAll(/([^\s=>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) attributes[a[1]!.toLowerCase()] = a[2] ?? a[3] ?? a[4] ?? '';
    let content = '';
    if (name === 'script' || name === 'style') {
      const end = html.indexOf(`</${name}`, m.index! + m[0].length);
      content = end < 0 ? '' : html.slice(m.index! + m[0].length, end);
    }
    tags.push({ name, attributes, content });
  }
  return tags;
}
