// Admin routes of the status server: a bearer token from status.adminTokenFile. Without a
// configured token the server is read-only (403); a missing or wrong token is 401. Tokens are
// compared as SHA-256 digests with timingSafeEqual, so neither content nor length leaks by timing.
import { createHash, timingSafeEqual } from 'node:crypto';

export type AdminCheck =
  { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token from an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1] ?? null;
}

export function checkAdmin(authorization: string | undefined, adminToken: string | undefined): AdminCheck {
  if (adminToken === undefined || adminToken === '') {
    return {
      ok: false,
      status: 403,
      message: 'admin actions are disabled: no status.adminTokenFile is configured (the server is read-only)',
    };
  }
  const given = bearerToken(authorization);
  if (given === null) {
    return { ok: false, status: 401, message: 'admin token required: send "Authorization: Bearer <token>"' };
  }
  if (!timingSafeEqual(digest(given), digest(adminToken))) {
    return { ok: false, status: 401, message: 'wrong admin token' };
  }
  return { ok: true };
}
