// The farm web server's config files: a static php-fpm pool of the asked size that keeps the farm's
// environment, and an Apache that relays more connections than php-fpm has children (so a burst
// waits in php-fpm's backlog) and keeps its own files in the run dir.
import { describe, expect, it } from 'vitest';
import {
  FPM_BACKLOG,
  apacheThreads,
  renderApacheConfig,
  renderFpmConfig,
  type FpmWebLayout,
} from '../../src/farm/fpm-web-config.js';

const layout = (children: number, root = true): FpmWebLayout => ({
  docroot: '/tmp/farm/docroot',
  runDir: '/tmp/jobrunner-fpm-x',
  logDir: '/tmp/farm/logs',
  fpmPort: 40001,
  apachePort: 40002,
  children,
  root,
});

function directive(text: string, name: string): string | undefined {
  return text
    .split('\n')
    .find((line) => line.startsWith(`${name} `))
    ?.slice(name.length + 1);
}

describe('php-fpm pool config', () => {
  it('is one static pool of the asked size on loopback, with the farm environment kept', () => {
    const text = renderFpmConfig(layout(12));
    expect(directive(text, 'pm')).toBe('= static');
    expect(directive(text, 'pm.max_children')).toBe('= 12');
    expect(directive(text, 'listen')).toBe('= 127.0.0.1:40001');
    expect(directive(text, 'listen.backlog')).toBe(`= ${FPM_BACKLOG}`);
    expect(directive(text, 'clear_env')).toBe('= no');
    expect(directive(text, 'daemonize')).toBe('= no');
    expect(directive(text, 'pid')).toBe('= /tmp/jobrunner-fpm-x/php-fpm.pid');
  });

  it('names a user only when started as root', () => {
    expect(directive(renderFpmConfig(layout(2, true)), 'user')).toBe('= root');
    expect(directive(renderFpmConfig(layout(2, false)), 'user')).toBeUndefined();
  });
});

describe('Apache config', () => {
  it.each([1, 12, 40])('relays more connections than %i php-fpm children, in one process', (children) => {
    const text = renderApacheConfig(layout(children));
    const threads = Number(directive(text, 'ThreadsPerChild'));
    expect(threads).toBe(apacheThreads(children));
    expect(threads).toBeGreaterThan(children);
    expect(Number(directive(text, 'MaxRequestWorkers'))).toBe(threads);
    expect(Number(directive(text, 'ThreadLimit'))).toBe(threads);
    expect(directive(text, 'ServerLimit')).toBe('1');
  });

  it('keeps its own files in the run dir, listens on loopback and proxies *.php with PATH_INFO', () => {
    const text = renderApacheConfig(layout(4));
    expect(directive(text, 'PidFile')).toBe('/tmp/jobrunner-fpm-x/apache.pid');
    expect(directive(text, 'DefaultRuntimeDir')).toBe('/tmp/jobrunner-fpm-x');
    expect(directive(text, 'ServerRoot')).toBe('/tmp/jobrunner-fpm-x');
    expect(directive(text, 'Listen')).toBe('127.0.0.1:40002');
    expect(directive(text, 'ProxyPassMatch')).toBe(
      '"^/(.*\\.php(/.*)?)$" "fcgi://127.0.0.1:40001/tmp/farm/docroot/$1"',
    );
    expect(directive(text, 'User')).toBe('www-data');
    expect(directive(renderApacheConfig(layout(4, false)), 'User')).toBeUndefined();
  });
});
