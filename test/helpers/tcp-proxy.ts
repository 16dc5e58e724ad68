import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy that can partition the network: while partitioned it forwards nothing in either direction but keeps
 * every socket open, as a dead route or a silently dropped NAT entry does (no FIN, no RST; only timeouts notice).
 * What was sent meanwhile is held and delivered when the partition heals, as TCP retransmission would.
 */
export interface PartitionProxy {
  /** host:port to connect to instead of the target. */
  readonly host: string;
  readonly port: number;
  partition(): void;
  heal(): void;
  dispose(): Promise<void>;
}

export async function startPartitionProxy(target: { host: string; port: number }): Promise<PartitionProxy> {
  let partitioned = false;
  const held: { to: Socket; chunk: Buffer }[] = [];
  const sockets = new Set<Socket>();
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => (partitioned ? held.push({ to, chunk }) : to.write(chunk)));
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server = createServer((downstream) => {
    const upstream = createConnection(target);
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    forward(downstream, upstream);
    forward(upstream, downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    partition: () => void (partitioned = true),
    heal: () => {
      partitioned = false;
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    dispose: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
