/** Minimal typings for the legacy socket.io clients installed under npm aliases (tests only). */
interface LegacySocket {
  id: string;
  connected: boolean;
  io: { engine: { transport: { name: string } } };
  on(event: string, listener: (...args: any[]) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
  off(event: string, listener?: (...args: any[]) => void): this;
  emit(event: string, ...args: any[]): this;
  close(): this;
  disconnect(): this;
}
type LegacyConnect = (url: string, options?: Record<string, unknown>) => LegacySocket;

declare module 'socket.io-client-v1' {
  const connect: LegacyConnect;
  export default connect;
}
declare module 'socket.io-client-v2' {
  const connect: LegacyConnect;
  export default connect;
}
