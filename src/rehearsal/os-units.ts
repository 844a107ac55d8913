// Units for the OS services the rehearsal hosts run (Redis, php-fpm, Apache, sshd, the deploy
// host's git HTTP server), in foreground form for the service manager stand-in. On a real host
// these come with the Debian packages.
import { REDIS_PORT } from './topology.js';

export function redisUnit(address: string): string {
  return `[Unit]
Description=Redis job queue partition

[Service]
ExecStart=/usr/bin/redis-server --bind ${address} 127.0.0.1 --port ${REDIS_PORT} --save "" --appendonly no --protected-mode no --dir /tmp
Restart=always
RestartSec=1
`;
}

export const PHP_FPM_UNIT = `[Unit]
Description=PHP 8.2 FastCGI Process Manager

[Service]
ExecStart=/usr/sbin/php-fpm8.2 --nodaemonize --fpm-config /etc/php/8.2/fpm/php-fpm.conf
ExecReload=/bin/kill -USR2 $MAINPID
KillMode=mixed
KillSignal=SIGQUIT
TimeoutStopSec=10
Restart=on-failure
`;

export const APACHE_UNIT = `[Unit]
Description=The Apache HTTP Server

[Service]
ExecStart=/bin/sh -c '. /etc/apache2/envvars && exec /usr/sbin/apache2 -DFOREGROUND'
ExecReload=/usr/sbin/apachectl graceful
KillSignal=SIGWINCH
KillMode=mixed
TimeoutStopSec=10
Restart=on-failure
`;

export const SSH_UNIT = `[Unit]
Description=OpenBSD Secure Shell server

[Service]
ExecStart=/usr/sbin/sshd -D -e
ExecReload=/bin/kill -HUP $MAINPID
KillMode=process
Restart=on-failure
`;

export function gitHttpUnit(address: string): string {
  return `[Unit]
Description=The deploy repos over dumb HTTP (scap's git_server)

[Service]
ExecStart=/usr/bin/python3 -m http.server 80 --bind ${address} --directory /srv/deployment
Restart=always
`;
}
