// Puts the events of each run in order, exactly once: the server numbers them 1, 2, 3 … per run; after a
// reconnect a live event can arrive before the replay of earlier ones, and the replay can repeat events already
// seen. Events at or below the last applied seq are duplicates; events beyond the next expected seq wait until
// the gap is filled.

const TERMINAL = new Set(['agent_completed', 'agent_error']);
const KEEP_FINISHED = 50;

export class RunTracker {
  #runs = new Map();
  #deliver;
  #requestResume;

  /**
   * @param deliver called with each event in order
   * @param requestResume called with (runId, lastSeq) when a run must be replayed from the server
   */
  constructor(deliver, requestResume) {
    this.#deliver = deliver;
    this.#requestResume = requestResume;
  }

  /** Follows a run from the event after lastSeq (after a reload, or to replay a run from its start with 0). */
  follow(runId, threadId, lastSeq) {
    const run = { id: runId, threadId, next: lastSeq + 1, held: new Map(), complete: false, resuming: false };
    this.#runs.set(runId, run);
    this.#prune();
    return run;
  }

  has(runId) {
    return this.#runs.has(runId);
  }

  lastSeq(runId) {
    const run = this.#runs.get(runId);
    return run ? run.next - 1 : 0;
  }

  isComplete(runId) {
    const run = this.#runs.get(runId);
    return !!run && run.complete;
  }

  forget(runId) {
    this.#runs.delete(runId);
  }

  /** Forgets every run (sign-out). */
  clear() {
    this.#runs.clear();
  }

  /** Runs not yet ended, each with the last seq applied: what to resume after a reconnect. */
  incomplete() {
    return [...this.#runs.values()].filter((run) => !run.complete).map((run) => ({
      runId: run.id, threadId: run.threadId, lastSeq: run.next - 1,
    }));
  }

  /** Marks the resume of a run as sent, so that a gap seen meanwhile does not ask for another. */
  resuming(runId, value) {
    const run = this.#runs.get(runId);
    if (run) {
      run.resuming = value;
    }
  }

  /** Whether events are still waiting for a gap to be filled. */
  hasGap(runId) {
    const run = this.#runs.get(runId);
    return !!run && run.held.size > 0;
  }

  /** Takes one event from the socket (or from stored state); run events are applied in seq order, once. */
  accept(event) {
    const runId = event.run_id;
    const seq = event.seq;
    if (typeof runId !== 'string' || !Number.isInteger(seq) || seq < 1) {
      this.#deliver(event);
      return;
    }
    let run = this.#runs.get(runId);
    if (!run) {
      // A run this page has not seen from its start (started in another tab, or before this page loaded):
      // hold the event and replay the run from the beginning, so that its view is complete.
      run = this.follow(runId, event.thread_id, 0);
      if (seq > 1) {
        run.held.set(seq, event);
        run.resuming = true;
        this.#requestResume(runId, 0);
        return;
      }
    }
    if (seq < run.next || run.held.has(seq)) {
      return; // a duplicate
    }
    if (seq > run.next) {
      run.held.set(seq, event);
      return;
    }
    this.#apply(run, event);
    while (run.held.has(run.next)) {
      const next = run.held.get(run.next);
      run.held.delete(run.next);
      this.#apply(run, next);
    }
  }

  #apply(run, event) {
    run.next = event.seq + 1;
    if (TERMINAL.has(event.type)) {
      run.complete = true;
      run.held.clear();
    }
    this.#deliver(event);
  }

  #prune() {
    if (this.#runs.size <= KEEP_FINISHED) {
      return;
    }
    for (const [id, run] of this.#runs) {
      if (run.complete && this.#runs.size > KEEP_FINISHED) {
        this.#runs.delete(id);
      }
    }
  }
}
