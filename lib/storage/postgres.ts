/**
 * The cluster message store: PostgreSQL through a `pg` pool. Saves that arrive while a commit is
 * in flight are written together by the next multi-row INSERT (one commit, one WAL flush for the
 * lot); PostgreSQL's default synchronous_commit makes the commit durable before it is acknowledged.
 */
import pg from 'pg';
import type { Position } from '../history/types.js';
import { MESSAGES_TABLE, MIGRATIONS, PENDING_TABLE, VERSION_TABLE } from './migrations.js';
import { MAX_BATCH, PROBE_ROW, type MessageStore, type PendingMessage, type Placement, type StoredMessage } from './types.js';

/** Any number the migrations of every node agree on: the advisory lock that serialises them. */
const MIGRATION_LOCK = 0x6e6f7469; // "noti"
const COLUMNS = 7;

/** A write waiting for the next flush; writes of one kind are sent together. */
type Write =
  | { kind: 'save'; row: StoredMessage }
  | { kind: 'pending'; row: PendingMessage }
  | { kind: 'place'; id: string; placement: Placement };

type Waiting = Write & {
  resolve: () => void;
  reject: (err: Error) => void;
};

/** `host:port/db` of a URL, for logs: never the credentials. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export class PostgresStore implements MessageStore {
  readonly description: string;
  private queue: Waiting[] = [];
  private flushing = false;
  private closed: Promise<void> | undefined;
  private readonly troubleListeners: ((reason: string) => void)[] = [];

  private constructor(
    readonly pool: pg.Pool,
    url: string,
  ) {
    this.description = `postgres ${describeUrl(url)}`;
    // An idle client losing its connection (server restart, terminated backend) is reported here;
    // the pool replaces it. Not fatal, but the store may be down: the health probe finds out.
    pool.on('error', (err) => {
      if (!this.closed) for (const listener of this.troubleListeners) listener(err.message);
    });
  }

  onTrouble(listener: (reason: string) => void): void {
    this.troubleListeners.push(listener);
  }

  /** Connects, migrates and resolves; rejects (pool closed) when it cannot. */
  static async open(url: string, options: { max?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 4, connectionTimeoutMillis: 5000 });
    // Until the store exists (it then listens itself): an idle client's error is not fatal.
    const ignore = (): undefined => undefined;
    pool.on('error', ignore);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot open the PostgreSQL store at ${describeUrl(url)}: ${(err as Error).message}`);
    }
    pool.off('error', ignore);
    return new PostgresStore(pool, url);
  }

  save(row: StoredMessage): Promise<void> {
    return this.enqueue({ kind: 'save', row });
  }

  savePending(row: PendingMessage): Promise<void> {
    return this.enqueue({ kind: 'pending', row });
  }

  place(id: string, placement: Placement): Promise<void> {
    return this.enqueue({ kind: 'place', id, placement });
  }

  private enqueue(write: Write): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the message store is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ ...write, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      // A run of writes of one kind: one statement for them all. A placement never overtakes the
      // pending save it places (the hub waits for that save before it publishes).
      const kind = this.queue[0]!.kind;
      let n = 1;
      while (n < this.queue.length && n < MAX_BATCH && this.queue[n]!.kind === kind) n++;
      const batch = this.queue.splice(0, n);
      try {
        await this.write(batch);
      } catch (batchError) {
        // One bad row must not fail the others: commit them one by one.
        for (const w of batch) {
          try {
            if (batch.length === 1) throw batchError;
            await this.write([w]);
          } catch (err) {
            w.reject(err as Error);
          }
        }
      }
    }
    this.flushing = false;
  }

  /** Commits writes of one kind and answers them; throws (none answered) when the statement fails. */
  private async write(batch: Waiting[]): Promise<void> {
    const saves: StoredMessage[] = [];
    const pending: PendingMessage[] = [];
    const places: { id: string; placement: Placement }[] = [];
    for (const w of batch) {
      if (w.kind === 'save') saves.push(w.row);
      else if (w.kind === 'pending') pending.push(w.row);
      else places.push(w);
    }
    if (saves.length > 0) await this.insert(saves);
    if (pending.length > 0) await this.insertPending(pending);
    const placed = places.length > 0 ? await this.placeAll(places) : undefined;
    for (const w of batch) {
      if (w.kind !== 'place' || placed!.has(w.id)) w.resolve();
      else w.reject(new Error(`no pending message ${w.id.slice(0, 64)}`));
    }
  }

  private async insertPending(rows: PendingMessage[]): Promise<void> {
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.id, r.ns, r.room, r.ts, r.event, r.payload);
      const b = i * 6;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    await this.pool.query(`INSERT INTO ${PENDING_TABLE} (id, ns, room, ts, event, payload) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`, values);
  }

  /**
   * Moves pending rows to their positions in one statement (so one transaction: a row is moved
   * whole or not at all); resolves with the ids that were pending.
   */
  private async placeAll(places: { id: string; placement: Placement }[]): Promise<Set<string>> {
    const result = await this.pool.query(
      `WITH p AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS p (id, epoch, msg_offset, ts)),
       moved AS (DELETE FROM ${PENDING_TABLE} d USING p WHERE d.id = p.id RETURNING d.id, d.ns, d.room, p.epoch, p.msg_offset, p.ts, d.event, d.payload),
       kept AS (INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload)
         SELECT ns, room, epoch, msg_offset, ts, event, payload FROM moved ON CONFLICT DO NOTHING)
       SELECT id FROM moved`,
      [places.map((w) => w.id), places.map((w) => w.placement.epoch), places.map((w) => w.placement.offset), places.map((w) => w.placement.ts)],
    );
    return new Set(result.rows.map((r: { id: string }) => r.id));
  }

  private async insert(rows: StoredMessage[]): Promise<void> {
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(r.ns, r.room, r.epoch, r.offset, r.ts, r.event, r.payload);
      const b = i * COLUMNS;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`;
    });
    // ON CONFLICT: a save retried after a lost reply is not an error.
    await this.pool.query(
      `INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING`,
      values,
    );
  }

  async page(ns: string, room: string, limit: number, before?: Position): Promise<StoredMessage[]> {
    const select = `SELECT ns, room, epoch, msg_offset AS "offset", ts, event, payload FROM ${MESSAGES_TABLE}`;
    const result = before
      ? await this.pool.query(
          `${select} WHERE ns = $1 AND room = $2 AND (epoch, msg_offset) < ($3, $4) ORDER BY epoch DESC, msg_offset DESC LIMIT $5`,
          [ns, room, before.epoch, before.offset, limit],
        )
      : await this.pool.query(`${select} WHERE ns = $1 AND room = $2 ORDER BY epoch DESC, msg_offset DESC LIMIT $3`, [ns, room, limit]);
    // BIGINT columns arrive as strings.
    return result.rows.reverse().map((r: Record<string, unknown>) => ({ ...(r as unknown as StoredMessage), offset: Number(r.offset), ts: Number(r.ts) }));
  }

  async prune(ts: number): Promise<number> {
    const result = await this.pool.query(`DELETE FROM ${MESSAGES_TABLE} WHERE ts < $1`, [ts]);
    const pending = await this.pool.query(`DELETE FROM ${PENDING_TABLE} WHERE ts < $1`, [ts]);
    return (result.rowCount ?? 0) + (pending.rowCount ?? 0);
  }

  async probe(): Promise<void> {
    const client = await this.pool.connect();
    const { ns, room, epoch, offset, ts, event, payload } = PROBE_ROW;
    let broken: Error | undefined;
    // A checked-out client reports a dropped connection as an 'error' event: without a listener
    // that is an uncaught exception. The query in flight rejects as well, which is what counts.
    const onError = (err: Error): void => void (broken ??= err);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${MESSAGES_TABLE} (ns, room, epoch, msg_offset, ts, event, payload) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, [
        ns,
        room,
        epoch,
        offset,
        ts,
        event,
        payload,
      ]);
      await client.query(`DELETE FROM ${MESSAGES_TABLE} WHERE ns = $1 AND room = $2 AND epoch = $3 AND msg_offset = $4`, [ns, room, epoch, offset]);
      await client.query('COMMIT');
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      // A client whose query failed may have lost its connection: not given back to the pool.
      client.release(broken);
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      while (this.flushing) await new Promise((r) => setImmediate(r));
      await this.pool.end();
    })();
    return this.closed;
  }
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  // A dropped connection also rejects the query in flight, which fails the start as it should.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  try {
    await client.query('BEGIN');
    // Nodes starting together migrate one after the other.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    const { rows } = await client.query(`SELECT COALESCE(MAX(version), 0) AS v FROM ${VERSION_TABLE}`);
    const current = Number((rows[0] as { v: number | string }).v);
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const sql of m.postgres) await client.query(sql);
      await client.query(`INSERT INTO ${VERSION_TABLE} (version, description, applied_at) VALUES ($1, $2, $3)`, [m.version, m.description, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.off('error', ignore);
    client.release();
  }
}
