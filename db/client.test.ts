import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getDatabase, openDatabase, setDatabase } from './client';

describe('PGlite data-directory lock', () => {
  it('refuses a directory held by another live process, and takes over a dead one’s lock', async () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'vigil-lock-')), 'pglite');
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(`${dataDir}.lock`, String(other.pid));
      await expect(openDatabase({ dataDir })).rejects.toThrow(/in use by process/);
    } finally {
      other.kill();
    }
    await new Promise((resolve) => other.on('exit', resolve));
    const handle = await openDatabase({ dataDir });
    expect(readFileSync(`${dataDir}.lock`, 'utf8')).toBe(String(process.pid));
    await handle.close();
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  });
});

describe('the process-wide handle', () => {
  it('does not remember a failed open: once the directory is free, the next call opens it', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'vigil-retry-'));
    const dataDir = path.join(base, 'pglite');
    const saved = { dir: process.env.VIGIL_DATA_DIR, url: process.env.DATABASE_URL };
    process.env.VIGIL_DATA_DIR = base;
    delete process.env.DATABASE_URL;
    setDatabase(undefined);
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(`${dataDir}.lock`, String(other.pid));
      await expect(getDatabase()).rejects.toThrow(/in use by process/);
      other.kill();
      await new Promise((resolve) => other.on('exit', resolve));
      const handle = await getDatabase();
      expect(handle.kind).toBe('pglite');
      await handle.close();
    } finally {
      other.kill();
      setDatabase(undefined);
      if (saved.dir === undefined) delete process.env.VIGIL_DATA_DIR;
      else process.env.VIGIL_DATA_DIR = saved.dir;
      if (saved.url !== undefined) process.env.DATABASE_URL = saved.url;
    }
  });
});
