// Suggests the known key an unknown one was probably meant to be ('runers' → 'runners').

function normalized(key: string): string {
  return key.toLowerCase().replace(/[-_\s]/g, '');
}

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest known key, or undefined when nothing is close enough to be a likely typo. */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const target = normalized(unknown);
  // Same key apart from case, '-' or '_' (lowPriority, claimttl, connect_timeout_ms) is a sure match.
  const sameShape = known.find((key) => normalized(key) === target);
  if (sameShape !== undefined) return sameShape;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const key of known) {
    const distance = editDistance(target, normalized(key));
    if (distance < bestDistance) {
      best = key;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(2, Math.floor(target.length / 3));
  return bestDistance <= allowed ? best : undefined;
}
