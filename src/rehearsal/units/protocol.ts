// The stand-in systemctl talks to the host's service manager over a unix socket: one JSON request
// line, one JSON reply line.
export const SOCKET_PATH = '/run/jr-units.sock';

export interface Request {
  readonly args: readonly string[];
  /** The caller's uid as it says (Node has no SO_PEERCRED): only root may change units. */
  readonly uid: number;
}

export interface Reply {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
