// What to do after one execution, for both executors (the project's rpc/RunSingleJob.php and
// EventBus's REST RunSingleJobHandler). 2xx: done. An ignored status (412): done. 5xx or no
// response: retry while retries are left, except that a 5xx with X-Readonly (RunSingleJob.php) or a
// 423 (EventBus: "Wiki is in read-only mode") is retried without using up an attempt, and a 501
// (EventBus: $wgEventBusEnableRunJobAPI is off) goes straight to the error topic: retrying cannot
// help until an operator changes the wiki's config. Everything else (400 bad event or unknown job
// type, 403 signature, 415, 422 empty body, other 4xx, 3xx, retries used up): the error topic.
import type { ExecuteResult } from './executor.js';

export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'ignored'; readonly status: number }
  | { readonly kind: 'readonly'; readonly status: number; readonly reason: string }
  | { readonly kind: 'retry'; readonly status: number; readonly reason: string }
  | { readonly kind: 'error'; readonly status: number; readonly reason: string };

export interface OutcomeRules {
  readonly ignoreStatus: readonly number[];
  /** Retries still allowed for this event (retryLimit minus retries done). */
  readonly retriesLeft: number;
}

const REASON_CAP = 2000;

/** A one-line reason from a response body: PHP errors, HTML titles or plain text. */
export function reasonText(status: number, body: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(body)?.[1];
  const text = (title ?? body)
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const base = `HTTP ${status}`;
  return (text === '' ? base : `${base}: ${text}`).slice(0, REASON_CAP);
}

/** Shared: most events end this way, and an outcome is only read. */
const OK: Outcome = Object.freeze({ kind: 'ok' });

export function classify(result: ExecuteResult, rules: OutcomeRules): Outcome {
  if (result.kind !== 'response') {
    const reason = `${result.kind === 'timeout' ? 'timeout' : 'request failed'}: ${result.message}`;
    return rules.retriesLeft > 0
      ? { kind: 'retry', status: 0, reason }
      : { kind: 'error', status: 0, reason };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return OK;
  if (rules.ignoreStatus.includes(status)) return { kind: 'ignored', status };
  const reason = reasonText(status, result.body);
  if (status === 423) return { kind: 'readonly', status, reason };
  if (status === 501) return { kind: 'error', status, reason: `${reason} (executor API disabled)` };
  if (status >= 500) {
    if (result.readonly) return { kind: 'readonly', status, reason };
    if (rules.retriesLeft > 0) return { kind: 'retry', status, reason };
    return { kind: 'error', status, reason: `${reason} (no retries left)` };
  }
  return { kind: 'error', status, reason };
}
