/**
 * `npm run docs:screenshot`: docs/admin.png, the admin page of a service with some clients and
 * traffic. Starts a service on a free port (admin password set), connects socket.io 4 and 2 clients
 * to a few rooms, publishes a varying stream for a while so the rate chart has a shape, then opens
 * the page in headless Chromium (playwright-core, CHROMIUM or /usr/bin/chromium), picks a room and
 * takes the screenshot.
 */
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { io as ioV4, type Socket } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { defaultConfig } from '../lib/config/index.js';
import { createLogger } from '../lib/log/logger.js';
import { createService } from '../lib/service.js';

const OUT = fileURLToPath(new URL('../../docs/admin.png', import.meta.url));
const PASSWORD = 'screenshot-admin-password';
/** How long traffic runs before the screenshot: the chart shows these seconds. */
const TRAFFIC_MS = 40_000;

const service = await createService(
  defaultConfig({ port: 0, host: '127.0.0.1', storage: { kind: 'off' }, auth: { ...defaultConfig().auth, adminPassword: PASSWORD } }),
  { logger: createLogger({ level: 'error', format: 'json' }) },
);
const { port } = await service.listen();
const url = `http://127.0.0.1:${port}`;
const clients: { close(): void }[] = [];

const join = (socket: { emit(event: string, ...args: unknown[]): void }, room: string, name: string): Promise<void> =>
  new Promise((resolve) => socket.emit('JOIN', { room, name }, () => resolve()));
const rooms = ['ctx-42', 'ctx-43', 'ctx-7', 'lobby-main', 'screen-1'];
for (let i = 0; i < 14; i++) {
  const legacy = i % 4 === 3;
  const socket: Socket = legacy
    ? (ioV2(`${url}/layout`, { transports: ['websocket'], forceNew: true, forceNode: true }) as unknown as Socket)
    : ioV4(`${url}/layout`, { transports: i % 5 === 4 ? ['polling'] : ['websocket'], forceNew: true });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  await join(socket, rooms[i % rooms.length]!, `viewer-${i}`);
  if (i % 3 === 0) await join(socket, 'ctx-42', `viewer-${i}`);
  clients.push(socket);
}

// Publications: a wave, so the chart shows something.
const started = Date.now();
let sent = 0;
const traffic = setInterval(() => {
  const t = (Date.now() - started) / 1000;
  const burst = Math.round(4 + 3 * Math.sin(t / 4));
  for (let k = 0; k < burst; k++) {
    void fetch(`${url}/publish/layout/${rooms[(sent + k) % rooms.length]}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cue: `scene-${sent + k}`, at: Math.round(t * 10) / 10 }),
    });
  }
  sent += burst;
}, 200);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
try {
  const context = await browser.newContext({ httpCredentials: { username: 'admin', password: PASSWORD }, viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${url}/admin`);
  await page.waitForFunction((n) => Number(document.getElementById('connections')?.textContent) === n, clients.length, { timeout: 10_000 });
  // The chart fills a sample a second: wait until it shows the traffic's seconds.
  await page.waitForFunction((n) => Number(document.getElementById('chart')?.dataset.points) >= n, TRAFFIC_MS / 1000 - 2, { timeout: TRAFFIC_MS + 10_000 });
  await page.click('#rooms tr[data-room="layout/ctx-42"]');
  await page.waitForFunction(() => (document.querySelectorAll('#members tbody tr').length ?? 0) > 1);
  await page.fill('#disconnect input[name=user]', 'user-17');
  await page.screenshot({ path: OUT, fullPage: true });
  console.log(`${OUT} written`);
} finally {
  clearInterval(traffic);
  await browser.close();
  for (const c of clients) c.close();
  await service.close();
}

declare const document: any;
