// The y/N prompt before a destructive action. Reads one line from stdin; anything but "y"/"yes"
// (including end of input, e.g. stdin not connected) is a no.
import { createInterface } from 'node:readline';

export async function confirm(
  question: string,
  stdin: NodeJS.ReadableStream,
  stderr: NodeJS.WritableStream,
): Promise<boolean> {
  stderr.write(`${question} [y/N] `);
  const lines = createInterface({ input: stdin, terminal: false });
  try {
    for await (const line of lines) {
      return /^\s*(y|yes)\s*$/i.test(line);
    }
    stderr.write('\n');
    return false;
  } finally {
    lines.close();
  }
}
