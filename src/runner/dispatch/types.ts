// The boundary between the runner core and the ways of asking MediaWiki to run one (wiki, type)
// batch: a CLI command, an HTTP batch endpoint (WMF rpc/RunJobs.php style) or core Special:RunJobs.
import type { RunJobsResult } from '../../mediawiki/runjobs-result.js';

export interface DispatchRequest {
  /** Wiki ID for --wiki / wiki= (already derived from the domain). */
  readonly wiki: string;
  readonly domain: string;
  readonly type: string;
  /** %(maxtime): 60 in high mode / 30 in low mode. */
  readonly maxTime: number;
  /** %(maxmem): limits.memory lookup. */
  readonly maxMem: string;
  /** limits.real lookup (already ≥ minRealSeconds): wall-clock limit of the whole dispatch. */
  readonly realLimitSeconds: number;
  /** 0 = unlimited. */
  readonly maxJobs: number;
}

export type DispatchOutcome = 'ok' | 'error' | 'timeout' | 'aborted';

export type DispatchErrorKind =
  'spawn' | 'exit-code' | 'signal' | 'bad-output' | 'http-status' | 'http-error' | 'timeout' | 'aborted';

export interface DispatchResult {
  /** 'ok' = MediaWiki ran and returned a valid result (jobs may still have failed). */
  readonly outcome: DispatchOutcome;
  readonly result: RunJobsResult | null;
  readonly okJobs: number;
  readonly failedJobs: number;
  readonly byType: Readonly<Record<string, { ok: number; failed: number }>>;
  readonly errorKind?: DispatchErrorKind;
  /** One clear line. */
  readonly error?: string;
  /** stderr/stdout/body excerpt ≤ 4 KiB, secrets masked. */
  readonly excerpt?: string;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly httpStatus?: number;
  /** Command line or URL, secrets masked. */
  readonly target: string;
  readonly durationMs: number;
  readonly killed?: 'SIGTERM' | 'SIGKILL';
}

export interface Dispatcher {
  readonly kind: 'command' | 'http' | 'special-runjobs';
  /** Never rejects: every failure is a DispatchResult. */
  dispatch(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult>;
  /** Refuses new dispatches, waits for in-flight ones (abort them first to hurry), frees resources. */
  close(): Promise<void>;
}
