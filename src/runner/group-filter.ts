// Which job types a group may run in a given priority mode (original §5.4): include ("*" = every
// type seen), minus exclude; in high mode the group's low-priority types are excluded too, in low
// mode they are added to include. Exclude always wins.
import type { GroupConfig } from '../config/types.js';
import type { PriorityMode } from './priority.js';

export function typeAllowed(group: GroupConfig, mode: PriorityMode, type: string): boolean {
  if (type === '*') return false;
  if (group.exclude.includes(type)) return false;
  const lowPriority = group.lowPriority.includes(type);
  if (lowPriority) return mode === 'low';
  return group.include.includes('*') || group.include.includes(type);
}
