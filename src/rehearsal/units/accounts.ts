// User and group IDs from this host's /etc/passwd and /etc/group (each rehearsal host has its own
// /etc), for the User=/Group= lines of a unit.
import { readFileSync } from 'node:fs';

function lookup(file: string, name: string, field: number): number | undefined {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) {
      const id = Number(fields[field]);
      return Number.isInteger(id) ? id : undefined;
    }
  }
  return undefined;
}

export function userIds(user: string): { uid: number; gid: number; home: string } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user) return { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '/' };
  }
  throw new Error(`no user ${user} in /etc/passwd`);
}

export function groupId(group: string): number {
  const gid = lookup('/etc/group', group, 2);
  if (gid === undefined) throw new Error(`no group ${group} in /etc/group`);
  return gid;
}
