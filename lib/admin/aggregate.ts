/** The cluster's figures for the admin page: the nodes' snapshots (snapshot.ts) summed. */
import type { NodeSnapshot } from './snapshot.js';

/** The counters and per-kind counts of every node summed, and the open connections in all and by kind. */
export interface ClusterTotals extends Pick<NodeSnapshot, 'eio' | 'members' | 'published' | 'deliveries' | 'errors' | 'slowConsumerDisconnects' | 'authFailures' | 'rateLimited'> {
  connections: number;
  /** Open connections by namespace, protocol and transport, most first. */
  byKind: { namespace: string; protocol: string; transport: string; count: number }[];
}

const add = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

export function aggregate(nodes: readonly NodeSnapshot[]): ClusterTotals {
  const kinds = new Map<string, ClusterTotals['byKind'][number]>();
  const totals: ClusterTotals = { connections: 0, byKind: [], eio: {}, members: {}, published: 0, deliveries: 0, errors: {}, slowConsumerDisconnects: 0, authFailures: 0, rateLimited: 0 };
  for (const n of nodes) {
    for (const [namespace, protocol, transport, count] of n.connections) {
      const key = `${namespace}\n${protocol}\n${transport}`;
      const kind = kinds.get(key) ?? { namespace, protocol, transport, count: 0 };
      kind.count += count;
      kinds.set(key, kind);
      totals.connections += count;
    }
    add(totals.eio, n.eio);
    add(totals.members, n.members);
    add(totals.errors, n.errors);
    totals.published += n.published;
    totals.deliveries += n.deliveries;
    totals.slowConsumerDisconnects += n.slowConsumerDisconnects;
    totals.authFailures += n.authFailures;
    totals.rateLimited += n.rateLimited;
  }
  totals.byKind = [...kinds.values()].sort((a, b) => b.count - a.count || a.namespace.localeCompare(b.namespace));
  return totals;
}
