// PHP 8 CLI as a test oracle (`php -r`); fails loudly when it is missing.
import { spawnSync } from 'node:child_process';

export function php(code: string, input: string | Buffer = ''): Buffer {
  const result = spawnSync('php', ['-r', code], { input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error)
    throw new Error(`php CLI is required for this test (Debian package php-cli): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`php failed: ${result.stderr.toString()}`);
  return result.stdout;
}
