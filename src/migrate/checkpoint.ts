// The checkpoint of a migration: an append-only JSON-lines file, fsynced after every record, so a
// migration killed at any point can continue with --resume. It records which job IDs are on the
// target (per queue) and, for Kafka targets, the topic offsets a run started writing at (to find
// what an interrupted write already produced). A torn last line (killed mid-write) is ignored.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { BackendKind } from '../config/types.js';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointHeader {
  readonly t: 'header';
  readonly version: number;
  readonly runId: string;
  readonly from: BackendKind;
  readonly to: BackendKind;
  readonly wikis: readonly string[];
  readonly types: readonly string[];
  readonly createdAt: string;
}

type CheckpointRecord =
  | CheckpointHeader
  | { readonly t: 'copied'; readonly q: string; readonly ids: readonly string[] }
  | { readonly t: 'mark'; readonly topic: string; readonly offsets: Readonly<Record<string, string>> }
  | { readonly t: 'done'; readonly at: string };

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointState {
  readonly header: CheckpointHeader;
  readonly copied: Map<string, Set<string>>;
  /** topic → partition → offset (as decimal strings) where writing started. */
  readonly marks: Map<string, Record<string, string>>;
  readonly done: boolean;
}

/** Reads a checkpoint file; null when it does not exist. */
export function loadCheckpoint(file: string): CheckpointState | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').split('\n');
  let header: CheckpointHeader | null = null;
  const copied = new Map<string, Set<string>>();
  const marks = new Map<string, Record<string, string>>();
  let done = false;
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: CheckpointRecord;
    try {
      record = JSON.parse(line) as CheckpointRecord;
    } catch {
      if (index === lines.length - 1 || lines.slice(index + 1).every((l) => l.trim() === '')) return; // torn tail
      throw new CheckpointError(`${file}:${index + 1}: not a checkpoint record`);
    }
    if (record.t === 'header') {
      if (record.version !== CHECKPOINT_VERSION) {
        throw new CheckpointError(
          `${file}: checkpoint version ${record.version}, expected ${CHECKPOINT_VERSION}`,
        );
      }
      header = record;
    } else if (record.t === 'copied') {
      const set = copied.get(record.q) ?? new Set<string>();
      for (const id of record.ids) set.add(id);
      copied.set(record.q, set);
    } else if (record.t === 'mark') {
      if (!marks.has(record.topic)) marks.set(record.topic, { ...record.offsets });
    } else if (record.t === 'done') {
      done = true;
    }
  });
  if (header === null)
    throw new CheckpointError(`${file}: no header line; not a jobqueue migrate checkpoint`);
  return { header, copied, marks, done };
}

/** Appends records; every append is on disk before it returns. */
export class CheckpointWriter {
  private fd: number;

  constructor(
    readonly file: string,
    header: CheckpointHeader | null,
  ) {
    this.fd = openSync(file, header ? 'w' : 'a');
    if (header) this.append(header);
  }

  copied(queue: string, ids: readonly string[]): void {
    if (ids.length > 0) this.append({ t: 'copied', q: queue, ids });
  }

  mark(topic: string, offsets: Readonly<Record<string, string>>): void {
    this.append({ t: 'mark', topic, offsets });
  }

  done(): void {
    this.append({ t: 'done', at: new Date().toISOString() });
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private append(record: CheckpointRecord): void {
    if (this.fd < 0) throw new CheckpointError(`${this.file} is closed`);
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.fd);
  }
}
