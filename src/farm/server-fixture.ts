// What the server fixtures share: a data dir that is the caller's or a temp dir of their own,
// start-up tried again on fresh ports when one was taken meanwhile, and stop / kill9 / restart of a
// server that keeps its data dir between runs.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, terminate, trackDir, untrackDir, untrackPid } from './process-tree.js';
import { ServerStartError, type SpawnedServer } from './spawn-server.js';

/** How long restart() waits for its port to be free again. */
const RESTART_PORT_WAIT_MS = 15_000;

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  untrackDir(dir);
}

/** True when a start failed because the server found its port taken. */
export function portInUse(error: unknown): boolean {
  return error instanceof ServerStartError && error.portInUse;
}

/**
 * Runs `start` (which picks fresh ports each time) again while it fails with `portTaken`: a port
 * can be taken between freePort() and the server binding it.
 */
export async function retryOnPortTaken<T>(
  start: () => Promise<T>,
  portTaken: (error: unknown) => boolean,
  attempts: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!portTaken(error) || attempt >= attempts) throw error;
    }
  }
}

/**
 * Runs `start` in `dir` (created if needed, kept), or without one in a fresh temp dir named after
 * `tempPrefix`, removed at exit, and at once when `start` fails.
 */
export async function withDataDir<T>(
  dir: string | undefined,
  tempPrefix: string,
  start: (dir: string, ownsDir: boolean) => Promise<T>,
): Promise<T> {
  const ownsDir = dir === undefined;
  const path = dir ?? mkdtempSync(join(tmpdir(), tempPrefix));
  mkdirSync(path, { recursive: true });
  if (ownsDir) trackDir(path);
  try {
    return await start(path, ownsDir);
  } catch (error) {
    if (ownsDir) removeDir(path);
    throw error;
  }
}

/** A server process run in a data dir that outlives it: stopped, killed and started again there. */
export abstract class RestartableServer {
  private server: SpawnedServer | undefined;
  private running = false;

  protected constructor(
    /** For errors: "redis-server", "the Kafka broker". */
    private readonly label: string,
    readonly dir: string,
    /** The dir is a temp dir of this server's, removed by stop(). */
    private readonly ownsDir: boolean,
    /** SIGTERM grace before SIGKILL in stop() and restart(). */
    private readonly graceMs: number,
  ) {}

  /** Spawns the server process and resolves once it is ready. */
  protected abstract spawn(): Promise<SpawnedServer>;

  /** PID of the current process (changes after restart()). */
  get pid(): number {
    if (!this.server) throw new Error(`${this.label} is not running`);
    return this.server.pid;
  }

  async start(): Promise<void> {
    this.server = await this.spawn();
    this.running = true;
  }

  private async halt(graceMs: number): Promise<void> {
    if (!this.server || !this.running) return;
    this.running = false;
    await terminate(this.server.pid, graceMs);
    untrackPid(this.server.pid);
  }

  /** SIGTERM (SIGKILL after the grace time); removes the dir when it is the server's own. */
  async stop(): Promise<void> {
    await this.halt(this.graceMs);
    if (this.ownsDir) removeDir(this.dir);
  }

  /** SIGKILL, keeping the dir so restart() brings the same data back. */
  async kill9(): Promise<void> {
    await this.halt(0);
  }

  /**
   * Stops the server if running and starts it again in the same dir, on the same port. Something
   * else can hold that port for a moment while the server is down (the fixtures' ports come from
   * the ephemeral range, so on a busy machine an outgoing connection may be given it), so a start
   * that finds it taken is tried again for up to RESTART_PORT_WAIT_MS.
   */
  async restart(): Promise<void> {
    await this.halt(this.graceMs);
    const deadline = Date.now() + RESTART_PORT_WAIT_MS;
    for (;;) {
      try {
        await this.start();
        return;
      } catch (error) {
        if (!portInUse(error) || Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }
}
