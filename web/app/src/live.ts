// Live updates without reloads: the node's event stream (routes.events,
// Server-Sent Events) pushes each new block, and a job's changes when a job
// is named. Where the stream cannot be had — no EventSource, or the node
// refuses it (it serves a bounded number; the refusal closes the stream for
// good) — the same callbacks are driven by polling the node's status.
import type { BlockEvent, JobEvent, Node } from "./api";

export type Live = {
  job?: number;
  onBlock?: (b: BlockEvent) => void;
  onJob?: (j: JobEvent) => void;
  /** how often to poll when the stream is not available (ms) */
  fallbackMs?: number;
};

/** live follows the node until the returned function is called. */
export function live(node: Node, o: Live): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let es: EventSource | undefined;

  const poll = () => {
    let last = -1;
    const tick = async () => {
      try {
        const s = await node.status();
        if (stopped || s.height === last) return;
        last = s.height;
        o.onBlock?.({ height: s.height, app_hash: s.app_hash, audit_size: s.commitment?.audit_size ?? 0 });
        // Without the stream the job's changes are not known: let the page re-read it each block.
        if (o.job !== undefined) o.onJob?.({ id: o.job, status: "", height: s.height });
      } catch {
        // the node is unreachable for now; the next tick tries again
      }
    };
    tick();
    timer = setInterval(tick, o.fallbackMs ?? 3000);
  };

  if (typeof EventSource === "undefined") {
    poll();
  } else {
    es = new EventSource(node.eventsURL(o.job));
    es.addEventListener("block", (e) => o.onBlock?.(JSON.parse((e as MessageEvent).data)));
    es.addEventListener("job", (e) => o.onJob?.(JSON.parse((e as MessageEvent).data)));
    es.onerror = () => {
      // EventSource reconnects by itself after a dropped connection; a
      // refused one (429, or any non-stream answer) is closed for good.
      if (!stopped && es?.readyState === EventSource.CLOSED) {
        es = undefined;
        poll();
      }
    };
  }
  return () => {
    stopped = true;
    es?.close();
    if (timer) clearInterval(timer);
  };
}
