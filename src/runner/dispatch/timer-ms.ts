// setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); a huge limits.real must mean
// "very long", not "time out immediately".
const MAX_TIMER_MS = 2 ** 31 - 1;

export function timerMs(ms: number): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_MS;
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}
