// DNS rebinding guard: a page on a domain the attacker re-points at this host would otherwise be
// served /status and the dashboard as if same-origin. The browser still sends the attacker's name
// in Host, so only known names are answered. An IP literal or no Host at all cannot be a rebound
// name (the browser's origin is then this server itself), so those are always accepted.
import { isIP } from 'node:net';

/**
 * Host header → lower-case name without port and trailing dot ('[::1]:80' → '::1'); brackets
 * hold only IPv6 addresses, anything else in them is kept as is (and matches no name).
 */
export function hostName(header: string): string {
  const trimmed = header.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(trimmed);
  if (bracketed) return isIP(bracketed[1] ?? '') === 6 ? (bracketed[1] as string) : trimmed;
  const name = trimmed.replace(/:\d*$/, '');
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** A predicate for Host headers: IP literals, localhost and the given names (case-insensitive). */
export function hostChecker(names: readonly string[]): (header: string | undefined) => boolean {
  const known = new Set(['localhost', ...names.map((name) => hostName(name))]);
  return (header) => {
    if (header === undefined) return true;
    const name = hostName(header);
    return isIP(name) !== 0 || known.has(name);
  };
}
