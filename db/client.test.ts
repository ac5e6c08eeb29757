import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from './client';

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
