// The runner schedules per (wiki, type): runJobs pops from every partition of that queue, so the
// partitions a queue is spread over are merged into one entry.

/** Unambiguous map key for a (wiki, type) queue; wiki and type may contain any character. */
export function queueKey(wiki: string, type: string): string {
  return JSON.stringify([wiki, type]);
}

/** "wiki/type" for logs and error messages. */
export function queueLabel(wiki: string, type: string): string {
  return `${wiki}/${type}`;
}
