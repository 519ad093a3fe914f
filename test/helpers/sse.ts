/**
 * A Server-Sent Events client over Node's fetch, reading the stream as EventSource does (events
 * split on a blank line; `id:`, `event:`, `data:`, `retry:` fields; `:` comments kept aside), for
 * tests: wait for the next event, see every event and comment so far, and how the stream ended.
 */
export interface SseEventIn {
  id: string | undefined;
  event: string;
  data: string;
  /** `data` parsed as JSON. */
  json: any;
}

export interface SseClient {
  status: number;
  headers: Headers;
  events: SseEventIn[];
  comments: string[];
  retry: number | undefined;
  /** The next event not yet taken (of `event`, when given: others are skipped). */
  next(event?: string, ms?: number): Promise<SseEventIn>;
  /** Resolves once the server ended the response properly; rejects if it was cut. */
  ended: Promise<void>;
  close(): void;
}

const open = new Set<AbortController>();

export function closeStreams(): void {
  for (const controller of open) controller.abort();
  open.clear();
}

/** Opens `url`; resolves once the response headers are in (the body keeps streaming). */
export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  open.add(controller);
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEventIn[] = [];
  const comments: string[] = [];
  let taken = 0;
  const waiters: Array<() => void> = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  const client: SseClient = {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    retry: undefined,
    async next(event, ms = 5000) {
      const deadline = Date.now() + ms;
      for (;;) {
        while (taken < events.length) {
          const e = events[taken++]!;
          if (event === undefined || e.event === event) return e;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no SSE event ${event ?? ''} within ${ms} ms (${events.length} events)`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    ended: Promise.resolve(),
    close() {
      controller.abort();
      open.delete(controller);
    },
  };
  client.ended = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | undefined;
        let event = 'message';
        const data: string[] = [];
        let fields = 0;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (name === 'id') id = value;
          else if (name === 'event') event = value;
          else if (name === 'data') data.push(value);
          else if (name === 'retry') client.retry = Number(value);
          else continue;
          if (name !== 'retry') fields++;
        }
        if (fields > 0) {
          const text = data.join('\n');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          events.push({ id, event, data: text, json });
        }
      }
      wake();
    }
    wake();
  })();
  client.ended.catch(() => wake());
  return client;
}
