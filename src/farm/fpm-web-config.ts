// Config files of the farm's production-shaped web server: Apache httpd (mpm_event, mod_proxy_fcgi)
// in front of a static php-fpm pool, as MediaWiki app servers run. Pure text, no I/O.

export interface FpmWebLayout {
  /** MediaWiki's docroot (php-fpm reads it; Apache only proxies). */
  docroot: string;
  /** pid files and Apache's runtime files. */
  runDir: string;
  logDir: string;
  fpmPort: number;
  apachePort: number;
  /** php-fpm children (pm.max_children of a static pool). */
  children: number;
  /** Running as root: php-fpm children as root (they write the farm's files), Apache's as www-data. */
  root: boolean;
}

/** Loopback only: the farm's endpoints trust 127.0.0.1 (rpc/RunJobs.php refuses anyone else). */
export const HOST = '127.0.0.1';
/** Connections waiting for an idle php-fpm child (PHP's default, stated so it is seen). */
export const FPM_BACKLOG = 511;
/** Longest request Apache waits for: WMF's max_execution_time on jobrunner hosts. */
export const PROXY_TIMEOUT_SECONDS = 1200;
const MODULES = '/usr/lib/apache2/modules';
export const APACHE_MODULES = ['mpm_event', 'authz_core', 'authz_host', 'proxy', 'proxy_fcgi'] as const;

/**
 * Apache threads for `children` php-fpm children. Apache only relays, so it gets more threads than
 * php-fpm has children: a burst then waits in php-fpm's backlog, where the next idle child takes the
 * oldest connection, never inside Apache.
 */
export function apacheThreads(children: number): number {
  return Math.max(25, children * 2);
}

export function apacheModulePath(module: (typeof APACHE_MODULES)[number]): string {
  return `${MODULES}/mod_${module}.so`;
}

/** php-fpm.conf: one static pool on loopback TCP; children accept a connection only while idle. */
export function renderFpmConfig(layout: FpmWebLayout): string {
  const user = layout.root ? ['user = root', 'group = root'] : [];
  return [
    '; Written by src/farm/fpm-web-server.ts for one farm web server.',
    '[global]',
    `pid = ${layout.runDir}/php-fpm.pid`,
    `error_log = ${layout.logDir}/php-fpm-${layout.apachePort}.log`,
    'daemonize = no',
    // No sd_notify: the fixture is not a systemd unit, even if NOTIFY_SOCKET leaks into its env.
    'systemd_interval = 0',
    '',
    '[farm]',
    ...user,
    `listen = ${HOST}:${layout.fpmPort}`,
    `listen.backlog = ${FPM_BACKLOG}`,
    `listen.allowed_clients = ${HOST}`,
    'pm = static',
    `pm.max_children = ${layout.children}`,
    // The farm's settings come as environment variables (MW_CONFIG_FILE, JOBRUNNER_FARM_*, secret
    // file paths), exactly as php -S gets them.
    'clear_env = no',
    'catch_workers_output = yes',
    'decorate_workers_output = no',
    // php -S (CLI php.ini) has no memory limit; php-fpm's php.ini has 128M, low for MediaWiki.
    'php_admin_value[memory_limit] = 512M',
    `php_admin_value[error_log] = ${layout.logDir}/php-fpm-${layout.apachePort}-php.log`,
    '',
  ].join('\n');
}

/** httpd.conf: mpm_event, every *.php path (with PATH_INFO) proxied to php-fpm, nothing served from disk. */
export function renderApacheConfig(layout: FpmWebLayout): string {
  const threads = apacheThreads(layout.children);
  const user = layout.root ? ['User www-data', 'Group www-data'] : [];
  // $1 is the path under the docroot; php-fpm (cgi.fix_pathinfo) splits off PATH_INFO itself.
  const target = `fcgi://${HOST}:${layout.fpmPort}${layout.docroot}/$1`;
  return [
    '# Written by src/farm/fpm-web-server.ts for one farm web server.',
    `ServerRoot ${layout.runDir}`,
    `DefaultRuntimeDir ${layout.runDir}`,
    `PidFile ${layout.runDir}/apache.pid`,
    `ServerName ${HOST}`,
    `Listen ${HOST}:${layout.apachePort}`,
    ...user,
    ...APACHE_MODULES.map((m) => `LoadModule ${m}_module ${apacheModulePath(m)}`),
    // One process of `threads` threads: enough to relay every child's request plus a burst.
    'StartServers 1',
    'ServerLimit 1',
    `ThreadLimit ${threads}`,
    `ThreadsPerChild ${threads}`,
    `MaxRequestWorkers ${threads}`,
    'MinSpareThreads 1',
    `MaxSpareThreads ${threads + 1}`,
    'MaxConnectionsPerChild 0',
    `ErrorLog ${layout.logDir}/apache-${layout.apachePort}-error.log`,
    'LogLevel warn',
    'LogFormat "%h %t \\"%r\\" %>s %b %Dus" timed',
    `CustomLog ${layout.logDir}/apache-${layout.apachePort}-access.log timed`,
    `DocumentRoot ${layout.docroot}`,
    '<Location "/">',
    '    Require all denied',
    '</Location>',
    '<LocationMatch "\\.php(/|$)">',
    `    Require ip ${HOST}`,
    '</LocationMatch>',
    `ProxyTimeout ${PROXY_TIMEOUT_SECONDS}`,
    `ProxyPassMatch "^/(.*\\.php(/.*)?)$" "${target}"`,
    '',
  ].join('\n');
}
