/**
 * The fault soak's SES endpoint: an HTTP proxy in front of the SES emulator, on a fixed port, that can
 *  - go away: its listening socket closes (new connections are refused, ECONNREFUSED as from a host that is down)
 *    and its open connections are dropped once idle, until it listens again on the same port;
 *  - throttle: answer a share of SendEmail calls 429 ThrottlingException, as SES does when a sending rate is
 *    exceeded (the body and `x-amzn-ErrorType` of test/helpers/fault-proxy.ts), without forwarding them.
 * It records when SendEmail calls succeed, for the recovery times after each fault.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

const SEND_EMAIL_PATH = '/v2/email/outbound-emails';

export interface SesProxy {
  readonly url: string;
  /** Epoch ms of every SendEmail SES (the emulator) answered 200 through the proxy. */
  readonly accepted: number[];
  /** SendEmail calls answered 429 by the proxy. */
  readonly throttled: number;
  /** Share of SendEmail calls answered 429 (0 turns throttling off). */
  throttleShare: number;
  /** Closes the listening socket and drops open connections as they go idle; resolves once nothing listens. */
  goAway(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startSesProxy(target: string, port: number, throttleShare: number): Promise<SesProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  let throttled = 0;
  const accepted: number[] = [];
  const proxy = {
    url: `http://127.0.0.1:${port}`,
    accepted,
    get throttled() {
      return throttled;
    },
    throttleShare,
    goAway,
    comeBack,
    dispose,
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const sending = req.method === 'POST' && (req.url ?? '').startsWith(SEND_EMAIL_PATH);
      if (sending && Math.random() < proxy.throttleShare) {
        throttled += 1;
        res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'ThrottlingException' });
        res.end(JSON.stringify({ message: 'Maximum sending rate exceeded.' }));
        return;
      }
      const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers: withoutHop(req.headers) }, (answer) => {
        if (sending && answer.statusCode === 200) accepted.push(Date.now());
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(Buffer.concat(chunks));
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await listen();

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async function goAway(): Promise<void> {
    down = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Requests in flight get their answers; kept-alive connections close once idle, so every next call is refused.
    server.closeIdleConnections();
    const idle = setInterval(() => (down ? server.closeIdleConnections() : clearInterval(idle)), 100);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    clearInterval(idle);
    for (const socket of sockets) socket.destroy();
  }

  async function comeBack(): Promise<void> {
    down = false;
    await listen();
  }

  async function dispose(): Promise<void> {
    down = true;
    for (const socket of sockets) socket.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return proxy;
}

function withoutHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { host: _host, connection: _connection, ...rest } = headers;
  return rest;
}
