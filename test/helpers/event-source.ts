/**
 * The SDK's FetchEventSource (Node.js 20 has no EventSource), remembering every stream opened so
 * a test can `cut()` one as a network would: the stream drops, without close().
 */
import { FetchEventSource } from '../../client/src/fetch-event-source.js';

export class TestEventSource extends FetchEventSource {
  static readonly opened: TestEventSource[] = [];

  constructor(url: string) {
    super(url);
    TestEventSource.opened.push(this);
  }

  cut(): void {
    this.abort.abort();
  }
}
