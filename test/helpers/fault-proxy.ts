import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedCall {
  path: string;
  body: string;
  /** The request's headers as they arrived (lower-cased names). */
  headers: IncomingHttpHeaders;
}

export interface Fault {
  status: number;
  /** SES error type, sent as `x-amzn-ErrorType` as AWS does. */
  errorType: string;
  message: string;
}

/**
 * What `decide` returns to lose SES's answer to a call: the call is forwarded, and the connection dropped once SES
 * has answered. SES acted on it (took the email, say) and the sender never hears so.
 */
export const LOSE_ANSWER = 'lose-answer';

/** What `decide` returns to hold SES's answer to a call until `until` settles: SES has acted on it, the sender waits. */
export interface Hold {
  until: Promise<unknown>;
}

/**
 * An HTTP proxy in front of the SES emulator that can answer some calls with an error instead of forwarding, or
 * lose SES's answer to them.
 */
export interface FaultProxy {
  url: string;
  calls: ProxiedCall[];
  dispose(): Promise<void>;
}

export async function startFaultProxy(
  target: string,
  decide: (call: ProxiedCall, index: number) => Fault | Hold | typeof LOSE_ANSWER | undefined,
): Promise<FaultProxy> {
  const calls: ProxiedCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const call = { path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers };
      const index = calls.push(call) - 1;
      const decision = decide(call, index);
      if (decision && decision !== LOSE_ANSWER && !('until' in decision)) {
        res.writeHead(decision.status, { 'content-type': 'application/json', 'x-amzn-errortype': decision.errorType });
        res.end(JSON.stringify({ message: decision.message }));
        return;
      }
      const url = new URL(req.url ?? '/', target);
      const upstream = request(url, { method: req.method, headers: withoutHop(req.headers) }, (answer) => {
        if (decision === LOSE_ANSWER) {
          answer.resume();
          answer.on('end', () => res.socket?.destroy());
          return;
        }
        const reply = () => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        };
        if (decision) void decision.until.then(reply, reply);
        else reply();
      });
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    dispose: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function withoutHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { host: _host, connection: _connection, ...rest } = headers;
  return rest;
}
