/**
 * A TCP proxy on port 0 standing for a load balancer in front of several nodes: each new
 * connection goes to the first target that accepts it, so when a node dies its clients come back
 * through the proxy to a survivor. Closing one side closes the other.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  url: string;
  /** target URLs (http://host:port), tried in order for each new connection */
  targets: string[];
  close(): Promise<void>;
}

function dial(targets: string[], index: number, onConnected: (socket: net.Socket) => void, onFailed: () => void): void {
  if (index >= targets.length) return onFailed();
  const { hostname, port } = new URL(targets[index]!);
  const upstream = net.connect(Number(port), hostname);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    onConnected(upstream);
  });
  upstream.once('error', () => {
    if (!connected) dial(targets, index + 1, onConnected, onFailed);
  });
}

export async function startTcpProxy(targets: string[]): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    client.pause();
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    dial(
      proxy.targets,
      0,
      (upstream) => {
        open.add(upstream);
        upstream.once('close', () => (open.delete(upstream), client.destroy()));
        upstream.on('error', () => upstream.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    targets,
    close: () => {
      for (const socket of open) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
