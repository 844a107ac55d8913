#!/usr/bin/env node
// jobqueue: see and act on a MediaWiki farm's Redis job queues without reading Redis by hand.
//   jobqueue status | inspect | retry-abandoned | delete | push   (--help for each)
// Exit codes: 0 success, 1 failure (an unreachable partition, a Redis error, a declined prompt),
// 2 bad command line or configuration.
import { runJobqueue } from './jobqueue/run.js';

runJobqueue(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`jobqueue: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
