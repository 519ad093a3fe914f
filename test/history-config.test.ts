import { resolve } from 'node:path';
import { expect } from 'chai';
import { itRefusesEachBadValue } from './helpers/config.js';
import { buildConfig, loadConfig } from '../lib/config/index.js';
import { runCli } from './helpers/process.js';

describe('config: history, recovery and storage', () => {
  it('has the documented defaults: 100 messages for 5 minutes, recovery for 2 minutes, SQLite in ./data kept 7 days', () => {
    const config = loadConfig([], {});
    expect(config.history).to.deep.equal({ size: 100, ttlMs: 300_000, maxBytes: 4 * 1024 * 1024, memory: 64 * 1024 * 1024 });
    expect(config.recoveryWindowMs).to.equal(120_000);
    expect(config.recoveryMemory).to.equal(16 * 1024 * 1024);
    expect(config.storage).to.deep.equal({ kind: 'sqlite', dataDir: resolve('data') });
    expect(config.retentionMs).to.equal(7 * 24 * 3600_000);
  });

  it('reads the flags and their environment variables (a flag wins)', () => {
    const env = { HISTORY_SIZE: '10', HISTORY_TTL: '90s', HISTORY_MAX_BYTES: '1m', HISTORY_MEMORY: '32m', RECOVERY_WINDOW: '0', DATA_DIR: '/var/lib/ns', RETENTION: '12h' };
    expect(loadConfig([], env)).to.deep.include({
      history: { size: 10, ttlMs: 90_000, maxBytes: 1024 * 1024, memory: 32 * 1024 * 1024 },
      recoveryWindowMs: 0,
      storage: { kind: 'sqlite', dataDir: '/var/lib/ns' },
      retentionMs: 12 * 3600_000,
    });
    const flags = loadConfig(['--history-size', '0', '--history-ttl', '1500ms', '--history-memory', '0', '--recovery-window', '30s', '--recovery-memory', '8m', '--retention', '0'], env);
    expect(flags).to.deep.include({ history: { size: 0, ttlMs: 1500, maxBytes: 1024 * 1024, memory: 0 }, recoveryWindowMs: 30_000, recoveryMemory: 8 * 1024 * 1024, retentionMs: 0 });
    // A database URL takes over from the data directory.
    const url = 'postgres://ns:secret@db.internal:5432/notifications';
    expect(loadConfig([], { ...env, DATABASE_URL: url }).storage).to.deep.equal({ kind: 'postgres', url });
    expect(loadConfig(['--database', 'postgresql://db/x'], {}).storage).to.deep.equal({ kind: 'postgres', url: 'postgresql://db/x' });
  });

  it('parses durations: milliseconds by default (as every duration flag), ms/s/m/h/d suffixes', () => {
    const ttl = (v: string) => buildConfig((f) => (f === 'history-ttl' ? v : undefined)).history.ttlMs;
    expect(ttl('0')).to.equal(0);
    expect(ttl('45000')).to.equal(45_000);
    expect(ttl('250ms')).to.equal(250);
    expect(ttl('5m')).to.equal(300_000);
    expect(ttl('2h')).to.equal(7_200_000);
    expect(ttl('1d')).to.equal(86_400_000);
  });

  itRefusesEachBadValue([
    ['history-size', '-1'],
    ['history-size', 'lots'],
    ['history-size', '1000001'],
    ['history-ttl', '5 minutes'],
    ['history-ttl', '-5m'],
    ['recovery-window', '1w'],
    ['retention', '99999d'],
    ['database', 'mysql://db/x'],
    ['data-dir', ' '],
  ]);

  it('--help lists the history flags with their variables', async () => {
    const result = await runCli(['--help']);
    const help = result.stdout.replace(/\s+/g, ' ');
    for (const text of ['--history-size', 'env HISTORY_SIZE', '--history-ttl', '--recovery-window', '--data-dir', 'env DATA_DIR', '--database', 'env DATABASE_URL', '--retention']) {
      expect(help).to.include(text);
    }
  });

  it('a store that cannot be opened stops the start with one line and exit code 1', async () => {
    const result = await runCli(['--port', '0', '--data-dir', '/etc/hostname/not-a-dir']);
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.have.length(1);
    expect(result.stderr).to.match(/^error: cannot start: cannot open .*ENOTDIR/);
  });
});
