/**
 * A small EventSource for Node.js 20 (which has none), over fetch: enough of the browser's to run
 * the SDK's SSE entry against the real service. It never reconnects by itself (the SDK does);
 * `cut()` drops the stream as a network would, without close().
 */
type Listener = (ev: { data?: unknown; lastEventId?: string; type: string }) => void;

export class TestEventSource {
  static readonly opened: TestEventSource[] = [];
  private readonly listeners = new Map<string, Listener[]>();
  private readonly abort = new AbortController();
  private closed = false;

  constructor(readonly url: string) {
    TestEventSource.opened.push(this);
    void this.run();
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  /** The connection drops: `error` without data, as a browser reports it. */
  cut(): void {
    this.abort.abort();
  }

  private dispatch(type: string, ev: { data?: unknown; lastEventId?: string }): void {
    for (const l of this.listeners.get(type) ?? []) l({ ...ev, type });
  }

  private async run(): Promise<void> {
    try {
      const res = await fetch(this.url, { signal: this.abort.signal, headers: { accept: 'text/event-stream' } });
      if (res.status !== 200 || !res.body) throw new Error(`HTTP ${res.status}`);
      this.dispatch('open', {});
      const decoder = new TextDecoder();
      let buffer = '';
      let event = { type: 'message', data: [] as string[], id: undefined as string | undefined };
      let lastEventId = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (event.id !== undefined) lastEventId = event.id;
            if (event.data.length) this.dispatch(event.type, { data: event.data.join('\n'), lastEventId });
            event = { type: 'message', data: [], id: undefined };
            continue;
          }
          const colon = line.indexOf(':');
          if (colon === 0) continue; // a comment (": ping")
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.type = value;
          else if (field === 'data') event.data.push(value);
          else if (field === 'id') event.id = value;
        }
      }
    } catch {
      // aborted or failed: reported below
    }
    if (!this.closed) this.dispatch('error', {});
  }
}
