#!/usr/bin/env node
// jobqueue: see and act on a MediaWiki farm's Redis job queues without reading Redis by hand.
//   jobqueue status | inspect | retry-abandoned | delete | push   (--help for each)
// Exit codes: 0 success, 1 failure (an unreachable partition, a Redis error, a declined prompt),
// 2 bad command line or configuration.
import { runJobqueue } from './jobqueue/run.js';
// --- jobqueue migrate (issue 8; src/cli/jobqueue/migrate.ts parses its own options) ---
import { migrateAt, runMigrateCli } from './jobqueue/migrate.js';
// --- end jobqueue migrate ---

// `jobqueue status | head` closes the pipe early: that is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// --- jobqueue migrate (issue 8) ---
const argv = process.argv.slice(2);
const at = migrateAt(argv);
const run =
  at >= 0
    ? (a: string[], io: Parameters<typeof runMigrateCli>[1]) => runMigrateCli(a.toSpliced(at, 1), io)
    : runJobqueue;
// --- end jobqueue migrate ---
run(argv, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `jobqueue: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
