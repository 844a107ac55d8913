// Readiness for the Type=notify units the Puppet module installs: src/observability/systemd-notify.ts
// runs the real systemd-notify(1) against a real AF_UNIX datagram socket standing in for systemd
// (a small Python receiver: Node cannot bind datagram Unix sockets). The receiver closes the
// barrier fd like systemd does, so the helper returns only after its message was read.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  SystemdNotifyError,
  notifyReady,
  notifyStatus,
  notifyStopping,
} from '../../src/observability/systemd-notify.js';

const RECEIVER = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"listening": sys.argv[1]}), flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    fds = array.array("i")
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    print(json.dumps({"message": msg.decode()}), flush=True)
    for fd in fds:
        os.close(fd)
`;

let dir: string;
let receiver: ChildProcessWithoutNullStreams;
const messages: string[] = [];
let socketPath: string;

beforeAll(async () => {
  for (const tool of ['systemd-notify', 'python3']) {
    const found = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
    if (found.exitCode !== 0) throw new Error(`${tool} is missing (Debian package systemd / python3)`);
  }
  dir = mkdtempSync(join(tmpdir(), 'jobrunner-notify-'));
  socketPath = join(dir, 'notify.sock');
  receiver = spawn('python3', ['-c', RECEIVER, socketPath]);
  const lines = createInterface({ input: receiver.stdout });
  await new Promise<void>((resolve, reject) => {
    receiver.once('error', reject);
    receiver.once('exit', (code) => reject(new Error(`notify receiver exited (${code})`)));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { listening?: string; message?: string };
      if (event.listening) resolve();
      if (event.message !== undefined) messages.push(event.message);
    });
  });
});

afterAll(() => {
  receiver?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('systemd-notify helper', () => {
  it('sends READY=1 and returns once the manager side has read it (barrier)', async () => {
    await notifyReady({ ...process.env, NOTIFY_SOCKET: socketPath });
    // The receiver printed both lines before it released the barrier; the pipe may lag the exit.
    await vi.waitFor(() => expect(messages).toEqual(expect.arrayContaining(['READY=1', 'BARRIER=1'])));
  });

  it('sends STOPPING=1 and a one-line status', async () => {
    const env = { ...process.env, NOTIFY_SOCKET: socketPath };
    await notifyStopping(env);
    await notifyStatus('draining\n3 jobs', env);
    await vi.waitFor(() =>
      expect(messages).toEqual(expect.arrayContaining(['STOPPING=1', 'STATUS=draining 3 jobs'])),
    );
  });

  it('does nothing without NOTIFY_SOCKET (not started by systemd)', async () => {
    // With an empty PATH any attempt to run the helper would fail.
    await expect(notifyReady({ PATH: '' })).resolves.toBeUndefined();
  });

  it('rejects with SystemdNotifyError when the socket is gone', async () => {
    const failed = notifyReady({ ...process.env, NOTIFY_SOCKET: join(dir, 'missing.sock') });
    await expect(failed).rejects.toBeInstanceOf(SystemdNotifyError);
    await expect(failed).rejects.toThrow(/systemd-notify --ready failed: .*No such file or directory/);
  });
});
