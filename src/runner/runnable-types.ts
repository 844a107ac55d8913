// The finite set of job types some group may run (in either priority mode), or null when a group
// includes every type ("*"). The ready tracker uses it to have Redis filter s-queuesWithJobs.
import type { GroupConfig } from '../config/types.js';

export function runnableTypes(groups: readonly GroupConfig[]): string[] | null {
  const types = new Set<string>();
  for (const group of groups) {
    if (group.include.includes('*')) return null;
    // Exclude always wins (group-filter.ts); low-priority types run in low mode.
    for (const type of [...group.include, ...group.lowPriority]) {
      if (type !== '*' && !group.exclude.includes(type)) types.add(type);
    }
  }
  return [...types].sort();
}
