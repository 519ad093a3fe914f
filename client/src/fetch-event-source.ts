/**
 * An EventSource over `fetch`, for runtimes without one (Node.js 20 and 22; the `notify` CLI):
 * what the SSE entry needs of the browser's, with headers. It never reconnects by itself: the
 * SSE entry does, with a fresh ticket and the last event id. A stream that ends or fails
 * dispatches `error` without data, as a browser's does.
 */
type Listener = (ev: { data?: unknown; lastEventId?: string; type: string }) => void;

/** Structurally an `EventSourceLike` (sse.ts), which re-exports it. */
export class FetchEventSource {
  private readonly listeners = new Map<string, Listener[]>();
  protected readonly abort = new AbortController();
  private closed = false;

  constructor(readonly url: string, private readonly init: { headers?: Record<string, string>; fetch?: typeof fetch } = {}) {
    void this.run();
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private dispatch(type: string, ev: { data?: unknown; lastEventId?: string }): void {
    for (const l of this.listeners.get(type) ?? []) l({ ...ev, type });
  }

  private async run(): Promise<void> {
    try {
      const res = await (this.init.fetch ?? fetch)(this.url, { signal: this.abort.signal, headers: { accept: 'text/event-stream', ...this.init.headers } });
      if (res.status !== 200 || !res.body) {
        // A refusal before the stream: its {error: {code, message}} goes with the `error` event
        // (a browser's EventSource cannot tell; the SSE entry then stops or retries by its code).
        const error = ((await res.json().catch(() => ({}))) as { error?: unknown }).error;
        if (!this.closed) this.dispatch('error', error === undefined ? {} : { data: JSON.stringify(error) });
        this.closed = true;
        return;
      }
      this.dispatch('open', {});
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let type = 'message';
      let data: string[] = [];
      let lastEventId = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (data.length) this.dispatch(type, { data: data.join('\n'), lastEventId });
            type = 'message';
            data = [];
            continue;
          }
          const colon = line.indexOf(':');
          if (colon === 0) continue; // a comment (": ping")
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') type = value;
          else if (field === 'data') data.push(value);
          else if (field === 'id') lastEventId = value;
        }
      }
    } catch {
      // aborted or failed: reported below
    }
    if (!this.closed) this.dispatch('error', {});
  }
}
