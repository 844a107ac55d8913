// jobqueue pause / resume: the same switch as the dashboard's Pause button (src/redis/paused-queues.ts),
// written to every partition; runners read it within about a second and take no new dispatch for
// the queue until it is resumed. Jobs stay where they are; `jobqueue status` marks the queue.
import { setPaused } from '../../status/pause-actions.js';
import type { CliIo, FarmContext } from './context.js';
import { EXIT_FAILURE, EXIT_OK } from './errors.js';

export async function runPause(
  ctx: FarmContext,
  target: { readonly wiki: string; readonly type: string },
  paused: boolean,
  json: boolean,
  io: CliIo,
): Promise<number> {
  const report = await setPaused(ctx.farm, target, paused);
  // A partition the CLI could not connect to fails the write too; name it once, with why.
  const errors = [
    ...[...ctx.unreachable].map(([partition, error]) => ({ partition, error })),
    ...report.errors.filter((e) => !ctx.unreachable.has(e.partition)),
  ];
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...target, ...report, errors })}\n`);
  } else {
    const verb = paused ? 'Paused' : 'Resumed';
    io.stdout.write(`${verb} ${target.type} on ${target.wiki} (${report.partitions} partition(s) written)\n`);
    for (const e of errors) io.stderr.write(`jobqueue: ${e.partition}: ${ctx.mask(e.error)}\n`);
  }
  return errors.length > 0 ? EXIT_FAILURE : EXIT_OK;
}
