// The rehearsal farm's hosts and addresses (issue 17): a deploy host, two Redis partition hosts,
// two MediaWiki app servers and three job-runner hosts (the first the canary; jobchron on the
// first two; the third runs MediaWiki's runJobs.php itself instead of calling an app server).
export type Role = 'deploy' | 'redis' | 'app' | 'runner';

export interface HostPlan {
  readonly name: string;
  readonly role: Role;
  /** Last octet of the host's address in the farm subnet. */
  readonly octet: number;
  readonly canary?: boolean;
  readonly chron?: boolean;
  /** Runner hosts: the app server they dispatch to; none: runJobs.php on the host itself. */
  readonly appServer?: string;
}

export const DOMAIN = 'rehearsal.test';
export const REDIS_PORT = 6379;
export const APP_PORT = 9006;
export const RUNNER_STATUS_PORT = 9150;

export const HOSTS: readonly HostPlan[] = [
  { name: 'deploy', role: 'deploy', octet: 10 },
  { name: 'redis1', role: 'redis', octet: 21 },
  { name: 'redis2', role: 'redis', octet: 22 },
  { name: 'app1', role: 'app', octet: 31 },
  { name: 'app2', role: 'app', octet: 32 },
  { name: 'runner1', role: 'runner', octet: 41, canary: true, chron: true, appServer: 'app1' },
  { name: 'runner2', role: 'runner', octet: 42, chron: true, appServer: 'app2' },
  { name: 'runner3', role: 'runner', octet: 43 },
];

export const fqdn = (name: string): string => `${name}.${DOMAIN}`;
