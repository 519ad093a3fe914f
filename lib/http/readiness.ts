/**
 * Readiness: whether this node can serve the whole cluster right now (`GET /readyz`), as opposed
 * to liveness (`GET /healthcheck`: the process answers). A load balancer or an orchestrator stops
 * sending new clients to a node that is not ready; its connected clients stay connected.
 *
 * Each check returns why the node is not ready, or undefined when its part is fine, and names its
 * component (`redis`, `store`) so the answer says which part fails. In memory mode without a
 * message store there is no check: a node is ready until it starts closing.
 */
export type ReadinessCheck = () => string | undefined;

export interface ReadinessState {
  ready: boolean;
  /** Why not, one entry per failing check. */
  reasons: string[];
  /** The failing components, in the order of `reasons`. */
  failing: string[];
}

export class Readiness {
  private readonly checks: { check: ReadinessCheck; component: string }[] = [];

  add(check: ReadinessCheck, component = 'service'): this {
    this.checks.push({ check, component });
    return this;
  }

  state(): ReadinessState {
    const reasons: string[] = [];
    const failing: string[] = [];
    for (const { check, component } of this.checks) {
      const reason = check();
      if (reason === undefined) continue;
      reasons.push(reason);
      failing.push(component);
    }
    return { ready: reasons.length === 0, reasons, failing };
  }
}
