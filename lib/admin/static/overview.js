// The cluster's figures: summary cards, nodes, connections by kind and client version, errors by code.
import { ago, bytes, cell, el, fillRows, rate } from './dom.js';

const $ = (id) => document.getElementById(id);

export function showOverview(o) {
  const last = (series) => series.at(-1) ?? 0;
  $('connections').textContent = String(o.totals.connections);
  $('published-rate').textContent = rate(last(o.rates.published));
  $('delivered-rate').textContent = rate(last(o.rates.deliveries));
  $('node-count').textContent = String(o.nodes.length);
  $('error-count').textContent = String(Object.values(o.totals.errors).reduce((a, b) => a + b, 0));
  $('slow-consumers').textContent = String(o.totals.slowConsumerDisconnects);
  $('redis').textContent = o.redis === 'none' ? 'single node' : o.redis;
  $('redis').className = `value ${o.redis === 'down' ? 'bad' : ''}`;

  fillRows(
    $('nodes'),
    o.nodes.map((n) =>
      el(
        'tr',
        { 'data-node': n.node },
        cell(`${n.node.slice(0, 8)}${n.node === o.self ? ' (this one)' : ''}`, 'mono'),
        cell(n.ready ? 'ready' : `not ready: ${n.reasons.join(', ')}`, n.ready ? 'good' : 'bad'),
        cell(ago(n.lastSeen)),
        cell(String(n.connections), 'num'),
        cell(bytes(n.memory), 'num'),
        cell(`${(n.lag * 1000).toFixed(1)} ms`, 'num'),
      ),
    ),
    'no node',
    6,
  );

  fillRows(
    $('kinds'),
    o.totals.byKind.map((k) => el('tr', {}, cell(k.namespace, 'mono'), cell(k.protocol), cell(k.transport), cell(String(k.count), 'num'))),
    'no connection',
    4,
  );
  const eio = Object.entries(o.totals.eio).sort();
  $('eio').textContent = eio.length ? `socket.io clients by Engine.IO revision: ${eio.map(([v, n]) => `EIO ${v}: ${n}`).join(', ')}` : '';

  const errors = Object.entries(o.totals.errors).sort((a, b) => b[1] - a[1]);
  fillRows($('errors'), errors.map(([code, n]) => el('tr', {}, cell(code, 'mono'), cell(String(n), 'num'))), 'none', 2);
  $('refusals').textContent = `authentication failures: ${o.totals.authFailures} · rate-limited: ${o.totals.rateLimited}`;
}
