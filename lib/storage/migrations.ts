/**
 * The schema of the message store, as numbered migrations applied in order at start, each in a
 * transaction together with its row in the version table. Never edit an applied migration: add the
 * next one. Table names are prefixed so the store can share a database with other applications.
 */

export interface Migration {
  version: number;
  description: string;
  sqlite: string[];
  postgres: string[];
}

export const VERSION_TABLE = 'notification_schema';
export const MESSAGES_TABLE = 'notification_messages';
/** Store-first messages written before they were published (MessageStore.savePending), until placed. */
export const PENDING_TABLE = 'notification_pending';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'stored messages',
    sqlite: [
      // A rowid table: payloads can be megabytes, which WITHOUT ROWID tables handle badly.
      `CREATE TABLE ${MESSAGES_TABLE} (
        ns TEXT NOT NULL,
        room TEXT NOT NULL,
        epoch TEXT NOT NULL,
        msg_offset INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL
      )`,
      `CREATE UNIQUE INDEX ${MESSAGES_TABLE}_position ON ${MESSAGES_TABLE} (ns, room, epoch, msg_offset)`,
      `CREATE INDEX ${MESSAGES_TABLE}_ts ON ${MESSAGES_TABLE} (ts)`,
    ],
    postgres: [
      // Epochs sort by time as byte strings: the "C" collation keeps that order in the index.
      `CREATE TABLE ${MESSAGES_TABLE} (
        ns TEXT NOT NULL,
        room TEXT NOT NULL,
        epoch TEXT COLLATE "C" NOT NULL,
        msg_offset BIGINT NOT NULL,
        ts BIGINT NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (ns, room, epoch, msg_offset)
      )`,
      `CREATE INDEX ${MESSAGES_TABLE}_ts ON ${MESSAGES_TABLE} (ts)`,
    ],
  },
  {
    version: 2,
    description: 'pending (store-first) messages',
    // A table of their own: the messages table, its key and every query on it stay as they were,
    // and a pending row is invisible to readers by construction.
    sqlite: [
      `CREATE TABLE ${PENDING_TABLE} (
        id TEXT PRIMARY KEY,
        ns TEXT NOT NULL,
        room TEXT NOT NULL,
        ts INTEGER NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL
      )`,
      `CREATE INDEX ${PENDING_TABLE}_ts ON ${PENDING_TABLE} (ts)`,
    ],
    postgres: [
      `CREATE TABLE ${PENDING_TABLE} (
        id TEXT PRIMARY KEY,
        ns TEXT NOT NULL,
        room TEXT NOT NULL,
        ts BIGINT NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL
      )`,
      `CREATE INDEX ${PENDING_TABLE}_ts ON ${PENDING_TABLE} (ts)`,
    ],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
