// The last resort for jobrunner's own follow-up messages (retry, delayed, error, partitioned copies)
// that the broker refuses for good: one JSON line per message with everything needed to produce it
// again by hand (topic, partition, headers, the bytes in base64) and why it was refused. Appended
// with O_APPEND and fsync'd before the caller lets the event's offset be committed.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OutgoingMessage } from './outbox.js';

export class DeadLetterFile {
  constructor(readonly path: string) {}

  /** @throws when the line cannot be written (the caller keeps the message and tries again). */
  async write(message: OutgoingMessage, error: string, now = new Date()): Promise<void> {
    const line = JSON.stringify({
      at: now.toISOString(),
      topic: message.topic,
      ...(message.partition !== undefined ? { partition: message.partition } : {}),
      ...(message.key ? { key: message.key.toString('base64') } : {}),
      headers: message.headers ?? {},
      bytes: message.value.length,
      value: message.value.toString('base64'),
      error,
    });
    await mkdir(dirname(this.path), { recursive: true });
    const file = await open(this.path, 'a', 0o640);
    try {
      await file.write(`${line}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
  }
}
