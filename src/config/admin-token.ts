// The status server's admin token (status.adminTokenFile). Guessing it is the only barrier to
// deleting queues, so a weak one is refused at start and by --check-config, with a clear message.
import { ConfigError } from './errors.js';
import { readSecretFile } from './secret-file.js';

export const MIN_ADMIN_TOKEN_LENGTH = 24;
/** Rejects long but trivial tokens ("aaaa…", "abab…") that a length check alone lets through. */
export const MIN_ADMIN_TOKEN_DISTINCT = 8;

/** Why `token` is too weak, or null when it is acceptable. Never quotes the token. */
export function adminTokenWeakness(token: string): string | null {
  if (/\s/.test(token))
    return 'the token contains whitespace, which an Authorization: Bearer header cannot carry';
  const length = [...token].length;
  if (length < MIN_ADMIN_TOKEN_LENGTH) {
    return `the token has ${length} characters; at least ${MIN_ADMIN_TOKEN_LENGTH} are required`;
  }
  const distinct = new Set(token).size;
  if (distinct < MIN_ADMIN_TOKEN_DISTINCT) {
    return `the token uses only ${distinct} different characters; at least ${MIN_ADMIN_TOKEN_DISTINCT} are required`;
  }
  return null;
}

/** Tokens read before the daemon dropped its privileges (see src/cli/privileges.ts), by path. */
const preloaded = new Map<string, string>();

/** Reads and checks the token now (as root), for readAdminToken() after the switch of user. */
export function preloadAdminToken(path: string): void {
  preloaded.set(path, readAdminToken(path));
}

/**
 * Reads and checks the admin token (or returns the one preloaded from that path).
 * @throws ConfigError when the file cannot be read, is empty, or holds a weak token
 */
export function readAdminToken(path: string): string {
  const early = preloaded.get(path);
  if (early !== undefined) return early;
  const token = readSecretFile(path, 'status.adminTokenFile');
  const weakness = adminTokenWeakness(token);
  if (weakness !== null) {
    throw new ConfigError([
      {
        file: path,
        path: '',
        line: 0,
        column: 0,
        message:
          `status.adminTokenFile: ${weakness} (make one with \`openssl rand -hex 16\`); ` +
          'admin actions stay refused until it is replaced',
      },
    ]);
  }
  return token;
}
