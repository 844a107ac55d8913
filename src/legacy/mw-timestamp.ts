// MediaWiki's TS_MW timestamps (YYYYMMDDHHMMSS, UTC), as JobQueueDB stores job_timestamp and
// job_token_timestamp.

/** UNIX seconds of a TS_MW string; null when it is not one. */
export function tsMwToUnix(value: string | null | undefined): number | null {
  if (typeof value !== 'string' || !/^[0-9]{14}$/.test(value)) return null;
  const ms = Date.UTC(
    Number(value.slice(0, 4)),
    Number(value.slice(4, 6)) - 1,
    Number(value.slice(6, 8)),
    Number(value.slice(8, 10)),
    Number(value.slice(10, 12)),
    Number(value.slice(12, 14)),
  );
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** TS_MW of UNIX seconds. */
export function unixToTsMw(seconds: number): string {
  return new Date(Math.floor(seconds) * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}
