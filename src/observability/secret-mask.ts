// Keeps secrets (passwords, $wgSecretKey, the admin token) out of everything the daemons write.
// Structured values are masked string by string BEFORE they are serialized: once JSON.stringify
// has escaped a secret holding `"` or `\`, its plain form no longer matches. Text that is already
// serialized is masked in the plain and the JSON-escaped forms (once and twice escaped).

/** The forms of `secret` that may appear in text, longest first so no form is half-replaced. */
function formsOf(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  return [...new Set([twice, once, secret])].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret with "***" (secrets of < 4 chars are still masked). */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of formsOf(secret)) out = out.split(form).join('***');
  }
  return out;
}

/**
 * A copy of `value` with `mask` applied to every string in it (keys too), ready to serialize.
 * Errors become their masked message; toJSON() is honoured; cycles become "[Circular]".
 */
export function maskStrings(value: unknown, mask: (text: string) => string): unknown {
  const seen = new WeakSet<object>();
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return mask(item);
    if (item === null || typeof item !== 'object') return item;
    if (item instanceof Error) return mask(item.message);
    if (seen.has(item)) return '[Circular]';
    seen.add(item);
    try {
      const json = (item as { toJSON?: unknown }).toJSON;
      if (typeof json === 'function') return walk((json as () => unknown).call(item));
      if (Array.isArray(item)) return item.map(walk);
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(item)) out[mask(key)] = walk(entry);
      return out;
    } finally {
      seen.delete(item);
    }
  };
  return walk(value);
}
