/**
 * Opens the configured message store and keeps its retention: stored messages older than
 * `--retention` are deleted at start and then every hour (or every tenth of the retention, if
 * that is shorter).
 */
import type { Logger } from '../log/logger.js';
import type { MessageStore, StorageConfig } from './types.js';

export type { MessageStore, StorageConfig, StoredMessage } from './types.js';

/** Loads only the driver in use (the pg client is never loaded for SQLite, nor SQLite for pg). */
export async function openMessageStore(config: StorageConfig): Promise<MessageStore | undefined> {
  switch (config.kind) {
    case 'off':
      return undefined;
    case 'sqlite':
      return (await import('./sqlite.js')).SqliteStore.open(config.dataDir, config.driver);
    case 'postgres':
      return (await import('./postgres.js')).PostgresStore.open(config.url);
  }
}

/** Deletes expired messages now and periodically; returns the function that stops it. */
export function keepRetention(store: MessageStore, retentionMs: number, logger: Logger, now: () => number = Date.now): () => void {
  if (retentionMs <= 0) return () => undefined;
  const prune = (): void => {
    store.prune(now() - retentionMs).then(
      (deleted) => {
        if (deleted > 0) logger.info('expired stored messages deleted', { deleted, store: store.description });
      },
      (err: unknown) => logger.warn('deleting expired stored messages failed', { store: store.description, err: (err as Error).message }),
    );
  };
  prune();
  const timer = setInterval(prune, Math.min(60 * 60_000, Math.max(1000, retentionMs / 10)));
  timer.unref();
  return () => clearInterval(timer);
}
