/**
 * Readiness: whether this node can serve the whole cluster right now (`GET /readyz`), as opposed
 * to liveness (`GET /healthcheck`: the process answers). A load balancer or an orchestrator stops
 * sending new clients to a node that is not ready; its connected clients stay connected.
 *
 * Each check returns why the node is not ready, or undefined when its part is fine. In memory
 * mode there is no check: a node is ready until it starts closing.
 */
export type ReadinessCheck = () => string | undefined;

export interface ReadinessState {
  ready: boolean;
  /** Why not, one entry per failing check. */
  reasons: string[];
}

export class Readiness {
  private readonly checks: ReadinessCheck[] = [];

  add(check: ReadinessCheck): this {
    this.checks.push(check);
    return this;
  }

  state(): ReadinessState {
    const reasons: string[] = [];
    for (const check of this.checks) {
      const reason = check();
      if (reason !== undefined) reasons.push(reason);
    }
    return { ready: reasons.length === 0, reasons };
  }
}
