// Everything a dispatcher reports (target, excerpts, error lines) passes through one masker, so
// $wgSecretKey, passwords and request signatures never reach logs.
import { maskSecrets } from '../../observability/logger.js';

export type Masker = (text: string) => string;

export function createMasker(secrets: readonly (string | undefined)[]): Masker {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s !== '');
  return (text) =>
    maskSecrets(text, known)
      .replace(/(signature=)[0-9A-Za-z%]+/g, '$1***')
      .replace(/(\/\/[^/\s:@]*:)[^@\s/]*@/g, '$1***@');
}
