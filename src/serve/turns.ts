/**
 * The answers of a finished batch, spread over event-loop turns. Encoding and sending 32 answers in
 * one go would hold the HTTP thread, and a health check arriving meanwhile would wait for all of
 * them. Queued here, they go out in the check phase, a few per turn, and every turn polls the
 * sockets again. Each run of turns starts with one answer per turn and doubles that while a turn
 * (answers, their promise continuations, the poll between) stays under TURN_BUDGET_MS: one at a
 * time when answers are heavy, many at once (little overhead) when they are light.
 */
const TURN_BUDGET_MS = 2;
const MAX_PIECES_PER_TURN = 64;

export class TurnQueue {
  private items: (() => void)[] = [];
  private next = 0;
  private scheduled = false;
  private perTurn = 1;
  /** When the running series of turns last started one (0: none running). */
  private lastTurnAt = 0;

  /** Runs `fn` in a later turn, after the pieces queued before it. */
  run(fn: () => void): void {
    this.items.push(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  private turn = (): void => {
    const now = performance.now();
    // The previous turn's length (its pieces, their promise continuations, the poll between) sizes this one.
    if (this.lastTurnAt) {
      const took = now - this.lastTurnAt;
      this.perTurn = took > TURN_BUDGET_MS ? Math.max(1, this.perTurn >> 1) : Math.min(MAX_PIECES_PER_TURN, this.perTurn * 2);
    }
    const end = Math.min(this.items.length, this.next + this.perTurn);
    const pieces = this.items.slice(this.next, end);
    this.next = end;
    if (this.next === this.items.length) {
      this.items = [];
      this.next = 0;
    }
    // Scheduled from the check phase, the next turn comes after a poll.
    if (this.items.length) {
      this.lastTurnAt = now;
      setImmediate(this.turn);
    } else {
      this.lastTurnAt = 0;
      this.perTurn = 1;
      this.scheduled = false;
    }
    for (const fn of pieces) fn();
  };
}

/** One per process: the answers of every model share the one HTTP thread. */
export const answerTurns = new TurnQueue();
