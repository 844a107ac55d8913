// Which known ready queues a pick has to look at. A farm with many broken wikis knows thousands of
// ready queues that cannot be dispatched now: backed off (held), or suspect (their dispatches are
// rationed by the failure damper). Looking at each of them on every pick made the runner's CPU
// follow the number of queues instead of the work. So every queue in the view is in exactly one
// place here:
//   - open: looked at by every pick (the scheduler checks it as before and parks it if it must wait);
//   - held: in a due-time index (jobchron's DueIndex), back to open when its hold ends (or at once
//     when a hold is lifted);
//   - suspect: in a FIFO (round robin), looked at only when the damper has a token, front first.
// Parking is a cache of the scheduler's own checks: anything that could end a wait early (a
// success, a lifted hold, the farm leaving failing mode) releases the queue to open, where it is
// checked again.

import { DueIndex } from '../chron/due-index.js';

export class CandidateIndex {
  private readonly open = new Set<string>();
  /** Suspect queues (insertion order: the one waiting longest first) and their wikis. */
  private readonly suspects = new Map<string, string>();
  private readonly suspectsByWiki = new Map<string, Set<string>>();
  /** Held queues by the time their hold ends (a later hold replaces an earlier one). */
  private readonly held = new DueIndex(Number.MAX_SAFE_INTEGER);

  /** A queue entered the view. */
  add(key: string): void {
    if (!this.suspects.has(key) && !this.held.has(key)) this.open.add(key);
  }

  /** A queue left the view. */
  remove(key: string): void {
    this.open.delete(key);
    this.unsuspect(key);
    this.held.delete(key);
  }

  /** Parks a queue until `until` (its hold's end). */
  hold(key: string, until: number): void {
    this.open.delete(key);
    this.unsuspect(key);
    this.held.set(key, until);
  }

  /** Parks a queue of `wiki` among the suspects, at the back (it was just looked at). */
  suspect(key: string, wiki: string): void {
    this.open.delete(key);
    this.held.delete(key);
    this.unsuspect(key);
    this.suspects.set(key, wiki);
    let keys = this.suspectsByWiki.get(wiki);
    if (!keys) this.suspectsByWiki.set(wiki, (keys = new Set()));
    keys.add(key);
  }

  /** A suspect looked at and passed over goes to the back of the line. */
  requeue(key: string): void {
    const wiki = this.suspects.get(key);
    if (wiki === undefined) return;
    this.suspects.delete(key);
    this.suspects.set(key, wiki);
  }

  /** Back to open (something may have ended its wait early); no-op for keys not parked. */
  release(key: string): void {
    if (this.unsuspect(key)) this.open.add(key);
    else if (this.held.has(key)) {
      this.held.delete(key);
      this.open.add(key);
    }
  }

  /** The wiki's suspects back to open (it succeeded: they may no longer be suspect). */
  releaseWiki(wiki: string): void {
    const keys = this.suspectsByWiki.get(wiki);
    if (!keys) return;
    for (const key of keys) {
      this.suspects.delete(key);
      this.open.add(key);
    }
    this.suspectsByWiki.delete(wiki);
  }

  /** Every suspect back to open (the reason they were suspect may have ended for all). */
  releaseSuspects(): void {
    for (const key of this.suspects.keys()) this.open.add(key);
    this.suspects.clear();
    this.suspectsByWiki.clear();
  }

  /** Everything back to open (settings changed). */
  releaseAll(): void {
    this.releaseSuspects();
    for (const key of this.held.keys()) this.open.add(key);
    this.held.clear();
  }

  /** Held queues whose hold ended by `now` go back to open. */
  releaseDue(now: number): void {
    for (const key of this.held.takeDue(now, Infinity)) this.open.add(key);
  }

  /** The queues every pick looks at. Deleting the current one while iterating is safe. */
  openKeys(): IterableIterator<string> {
    return this.open.values();
  }

  /** Suspects, the one waiting longest first. */
  suspectKeys(): IterableIterator<string> {
    return this.suspects.keys();
  }

  get suspectCount(): number {
    return this.suspects.size;
  }

  get heldCount(): number {
    return this.held.size;
  }

  get openCount(): number {
    return this.open.size;
  }

  private unsuspect(key: string): boolean {
    const wiki = this.suspects.get(key);
    if (wiki === undefined) return false;
    this.suspects.delete(key);
    const keys = this.suspectsByWiki.get(wiki);
    keys?.delete(key);
    if (keys?.size === 0) this.suspectsByWiki.delete(wiki);
    return true;
  }
}
