/**
 * `npm start`: the production portal, i.e. Next's request handler behind a plain Node HTTP
 * server whose one addition is the socket's peer address. Next itself keeps whatever
 * X-Forwarded-For a client sends and drops the peer, so the portal could not tell a proxy's hop
 * from a forged one; here every request carries `x-vigil-peer` (any the client sent is replaced),
 * which lib/platform/net/client-address.ts reads together with VIGIL_TRUSTED_PROXIES.
 *
 * Plain JavaScript so that a production install needs neither tsx nor a compile step.
 * Usage: node scripts/serve.mjs [-p PORT] [-H HOST]
 */
import { createServer } from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';

process.env.NODE_ENV = 'production';
// A title starting with next-server, as `next start` gives its process (tests find it by that).
process.title = 'next-server (vigil)';

const { values } = parseArgs({
  options: {
    port: { type: 'string', short: 'p', default: process.env.PORT ?? '3000' },
    hostname: { type: 'string', short: 'H', default: '0.0.0.0' },
  },
});
const port = Number(values.port);
// Names this process on every response (X-Vigil-Instance) and in its start-up line, so that
// behind a load balancer a response, a log line and a process can be matched up. Set it to a
// plain label (vigil-a, vigil-b): it is sent to browsers.
const instance = process.env.VIGIL_INSTANCE_NAME || `${os.hostname()}:${port}`;

// Tells start-up (lib/platform/startup-checks.ts) that peer addresses are being passed on.
globalThis[Symbol.for('vigil.serve')] = true;

const { default: next } = await import('next');
const app = next({ dev: false, dir: process.cwd(), hostname: values.hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  // Always overwritten: an empty value (peer unknown) reads as no address, never the client's claim.
  req.headers['x-vigil-peer'] = req.socket.remoteAddress ?? '';
  res.setHeader('x-vigil-instance', instance);
  handle(req, res);
});
server.listen(port, values.hostname, () => {
  console.log(`Vigil instance ${instance} listening on http://${values.hostname}:${port}`);
});

const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
