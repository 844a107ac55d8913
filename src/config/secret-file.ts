// Reads a secret (e.g. $wgSecretKey, the status admin token). Errors name the file, never its contents.
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/**
 * Returns the file's contents with surrounding whitespace trimmed.
 * @param what what the secret is for, used in messages (e.g. "dispatch.secretKeyFile")
 * @throws ConfigError when the file is missing, unreadable or empty
 */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      { file: path, path: '', line: 0, column: 0, message: `${what}: ${fileReadReason(error)}` },
    ]);
  }
  const secret = text.trim();
  if (secret === '') {
    throw new ConfigError([
      {
        file: path,
        path: '',
        line: 0,
        column: 0,
        message: `${what}: the file is empty; expected the secret`,
      },
    ]);
  }
  return secret;
}

/** Why a file could not be read, in plain words (from the error code; never the file's contents). */
export function fileReadReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'cannot read the file: it does not exist';
    case 'EACCES':
    case 'EPERM':
      return `cannot read the file: permission denied (running as uid ${process.getuid?.() ?? '?'})`;
    case 'EISDIR':
      return 'cannot read the file: it is a directory';
    case 'ENOTDIR':
      return 'cannot read the file: a part of the path is not a directory';
    default:
      return `cannot read the file (${code ?? (error instanceof Error ? error.message : String(error))})`;
  }
}
