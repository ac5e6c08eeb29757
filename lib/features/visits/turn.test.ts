/**
 * The portal's TURN credentials against a real coturn (Debian's, started here with the REST API
 * secret): an Allocate with a fresh credential succeeds, one past its expiry or made with another
 * secret is refused. The TURN exchange is written out below (RFC 5766 over RFC 5389) so the test
 * speaks to coturn exactly as a browser would, long-term credentials and all.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turnCredential } from '@/lib/features/visits/turn';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const PORT = 34780;
const SECRET = randomBytes(24).toString('hex');
const REALM = 'vigil.test';
const MAGIC = 0x2112a442;

const attr = (type: number, value: Buffer) => {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
};

function message(type: number, id: Buffer, attrs: Buffer[], integrityKey?: Buffer): Buffer {
  const body = Buffer.concat(attrs);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(type, 0);
  head.writeUInt32BE(MAGIC, 4);
  id.copy(head, 8);
  if (!integrityKey) {
    head.writeUInt16BE(body.length, 2);
    return Buffer.concat([head, body]);
  }
  // MESSAGE-INTEGRITY covers the message with its length already counting the integrity attribute.
  head.writeUInt16BE(body.length + 24, 2);
  const mac = createHmac('sha1', integrityKey).update(Buffer.concat([head, body])).digest();
  return Buffer.concat([head, body, attr(0x0008, mac)]);
}

function parse(reply: Buffer): { type: number; attrs: Map<number, Buffer> } {
  const attrs = new Map<number, Buffer>();
  for (let at = 20; at + 4 <= reply.length; ) {
    const type = reply.readUInt16BE(at);
    const length = reply.readUInt16BE(at + 2);
    attrs.set(type, reply.subarray(at + 4, at + 4 + length));
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  return { type: reply.readUInt16BE(0), attrs };
}

/** One request and its reply, from one client socket: coturn binds a nonce to the client's address and port. */
function exchange(request: Buffer, socket = createSocket('udp4')): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.removeAllListeners('message');
      reject(new Error('coturn did not answer'));
    }, 3_000);
    socket.once('message', (reply) => {
      clearTimeout(timer);
      resolve(reply);
    });
    socket.send(request, PORT, '127.0.0.1');
  });
}

const UDP_TRANSPORT = attr(0x0019, Buffer.from([17, 0, 0, 0]));

/** An Allocate as a browser makes it: unauthenticated, then again with the realm's nonce. */
async function allocate(username: string, password: string): Promise<'allocated' | number> {
  const socket = createSocket('udp4');
  try {
    return await allocateFrom(socket, username, password);
  } finally {
    socket.close();
  }
}

async function allocateFrom(socket: ReturnType<typeof createSocket>, username: string, password: string): Promise<'allocated' | number> {
  const challenge = parse(await exchange(message(0x0003, randomBytes(12), [UDP_TRANSPORT]), socket));
  const realm = challenge.attrs.get(0x0014)!;
  const nonce = challenge.attrs.get(0x0015)!;
  const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
  const reply = parse(await exchange(message(0x0003, randomBytes(12), [UDP_TRANSPORT, attr(0x0006, Buffer.from(username)), attr(0x0014, realm), attr(0x0015, nonce)], key), socket));
  if (reply.type === 0x0103) return 'allocated';
  const error = reply.attrs.get(0x0009);
  return error ? error[2]! * 100 + error[3]! : -1;
}

let coturn: ChildProcess;

beforeAll(async () => {
  const install = spawnSync('bash', [path.join(root, 'scripts', 'ensure-coturn.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (install.status !== 0) throw new Error('coturn is not installed and scripts/ensure-coturn.sh could not install it.');
  coturn = spawn(install.stdout.trim(), [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${PORT}`, `--min-port=${PORT + 1}`, `--max-port=${PORT + 9}`,
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, `--realm=${REALM}`, '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout', '--simple-log',
    '--pidfile=', '--no-stun-backward-compatibility',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Ready once it answers an unauthenticated Allocate with its challenge.
  for (let i = 0; ; i++) {
    const probe = createSocket('udp4');
    try {
      await exchange(message(0x0003, randomBytes(12), [UDP_TRANSPORT]), probe);
      return;
    } catch (error) {
      if (i > 20) throw error;
    } finally {
      probe.close();
    }
  }
}, 60_000);
afterAll(() => {
  coturn?.kill('SIGTERM');
});

describe('TURN credentials (REST API scheme)', () => {
  it('are `expiry:id` with the HMAC-SHA1 of that under the shared secret', () => {
    const at = new Date('2026-12-01T12:00:00Z');
    const { username, credential } = turnCredential('s3cret-s3cret-s3cret', 'c-1234', at, 600);
    expect(username).toBe(`${at.getTime() / 1000 + 600}:c-1234`);
    expect(credential).toBe(createHmac('sha1', 's3cret-s3cret-s3cret').update(username).digest('base64'));
  });

  it('let a browser allocate a relay on coturn while fresh, and not once expired or under another secret', async () => {
    const fresh = turnCredential(SECRET, 'c-visit', new Date(), 600);
    expect(await allocate(fresh.username, fresh.credential)).toBe('allocated');
    const expired = turnCredential(SECRET, 'c-visit', new Date(Date.now() - 3_600_000), 600);
    expect(await allocate(expired.username, expired.credential)).toBe(401);
    const forged = turnCredential('another-secret-entirely', 'c-visit', new Date(), 600);
    expect(await allocate(forged.username, forged.credential)).toBe(401);
  });
});
