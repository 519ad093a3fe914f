// The admin page's JSON API (/admin/api/...): same origin, so the browser sends the basic credentials
// it was given for /admin.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function answer(res) {
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

export async function getJson(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  const text = query.toString();
  return answer(await fetch(`/admin/api/${path}${text ? `?${text}` : ''}`, { headers: { accept: 'application/json' }, cache: 'no-store' }));
}

// JSON bodies only: the server refuses anything else (another site cannot forge such a request).
export async function postJson(path, body) {
  return answer(await fetch(`/admin/api/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
}
