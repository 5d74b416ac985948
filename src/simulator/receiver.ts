import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real local HTTP webhook receiver on an ephemeral loopback port, for tests and the demo. Each
 * request is recorded; `respond` chooses the answer (status, headers, delay, or dropping the
 * connection) per request.
 */

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Receive time (ms since epoch). */
  readonly at: number;
}

export interface ReceiverAnswer {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly delayMs?: number;
  /** Destroy the socket without answering. */
  readonly drop?: boolean;
  /** Never answer: the request stays open until the sender gives up or the receiver closes. */
  readonly hang?: boolean;
}

export interface Receiver {
  /** `http://127.0.0.1:{port}` */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

export async function startReceiver(respond: (r: ReceivedRequest, index: number) => ReceiverAnswer = () => ({ status: 200 })): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const index = requests.length;
      requests.push(r);
      const answer = respond(r, index);
      const send = () => {
        if (answer.hang) return;
        if (answer.drop) {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status ?? 200, answer.headers ?? {});
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
