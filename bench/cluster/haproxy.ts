/**
 * HAProxy (Debian's haproxy; scripts/ensure-haproxy.sh installs it) in front of the portal
 * instances: round robin, no sticky sessions, each instance health-checked on /api/health and
 * taken out of rotation while it fails. Its configuration is written here, so the deployment
 * documentation (docs/operations.md) and what the tests run are one text.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@/bench/load/portal';

export interface Backend {
  name: string;
  port: number;
}

/**
 * What a browser sees when no instance can answer (all are failing their health check, e.g.
 * while the database fails over): a plain sentence, never HAProxy's or Node's internals.
 */
const UNAVAILABLE_PAGE = [
  'HTTP/1.1 503 Service Unavailable',
  'Cache-Control: no-store',
  'Connection: close',
  'Content-Type: text/html; charset=utf-8',
  'Retry-After: 5',
  '',
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil is briefly unavailable</title></head>',
  '<body><main role="alert"><h1>Vigil is briefly unavailable</h1>',
  '<p>Please try again in a moment. A change you were making was saved only if the page told you so.</p></main></body></html>',
  '',
].join('\r\n');

/** The configuration file's text (also shown in docs/operations.md). */
export function haproxyConfig(options: { port: number; statsPort?: number; backends: Backend[]; errorFile: string }): string {
  return [
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    // A request that could not reach an instance (connection refused) is tried on another one;
    // a request an instance has begun is never sent twice (HAProxy does not retry those).
    '  retries 2',
    '  option redispatch',
    '  option forwardfor',
    `  errorfile 503 ${options.errorFile}`,
    '',
    'frontend portal',
    `  bind 127.0.0.1:${options.port}`,
    '  default_backend vigil',
    '',
    'backend vigil',
    '  balance roundrobin',
    '  option httpchk GET /api/health',
    '  http-check expect status 200',
    // Checked every second: an instance (or its database) that fails twice is out within ~2 s,
    // and back after one good answer.
    '  default-server check inter 1s fall 2 rise 1',
    ...options.backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`),
    ...(options.statsPort ? ['', 'listen stats', `  bind 127.0.0.1:${options.statsPort}`, '  stats enable', '  stats uri /'] : []),
    '',
  ].join('\n');
}

function haproxyBinary(): string {
  const found = spawnSync('bash', ['-c', 'command -v haproxy || true'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  const install = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-haproxy.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (install.status !== 0) throw new Error('HAProxy is not installed and scripts/ensure-haproxy.sh could not install it.');
  return haproxyBinary();
}

export class Haproxy {
  private child: ChildProcess | null = null;
  readonly configFile: string;
  readonly logFile: string;

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly backends: Backend[],
    readonly statsPort?: number,
  ) {
    this.configFile = path.join(dir, 'haproxy.cfg');
    this.logFile = path.join(dir, 'haproxy.log');
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes the configuration, checks it (`haproxy -c`), starts HAProxy and waits until it answers. */
  async start(timeoutMs = 30_000): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const errorFile = path.join(this.dir, '503.http');
    writeFileSync(errorFile, UNAVAILABLE_PAGE);
    writeFileSync(this.configFile, haproxyConfig({ port: this.port, statsPort: this.statsPort, backends: this.backends, errorFile }));
    const bin = haproxyBinary();
    const check = spawnSync(bin, ['-c', '-q', '-f', this.configFile], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`HAProxy refused its configuration: ${check.stderr.trim()}`);
    const out = openSync(this.logFile, 'a');
    // -db: stay in the foreground, so this process owns it and stop() ends it.
    this.child = spawn(bin, ['-db', '-f', this.configFile], { stdio: ['ignore', out, out] });
    closeSync(out);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        const response = await fetch(`${this.baseUrl}/api/health`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.stop();
    throw new Error(`HAProxy on port ${this.port} did not pass requests to the portal.\n${this.outputTail()}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  outputTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}
