// The rehearsal's service manager stand-in reads the project's units as systemd would: Exec line
// quoting, time spans, and the lines it honours. The unit rendered by templates/daemon.service.erb
// is covered through the multi-host rehearsal (test/integration/rehearsal-farm.test.ts).
import { describe, expect, it } from 'vitest';
import { parseTimespan, parseUnitFile, splitExecWords } from '../../src/rehearsal/units/unit-file.js';
import { unitName } from '../../src/rehearsal/units/supervisor.js';

describe('rehearsal unit files', () => {
  it('splits Exec lines with systemd quoting', () => {
    expect(
      splitExecWords(`/usr/bin/node "/srv/a b/x.js" --config-file=/etc/j.conf 'q"x' a\\ b 100%%`),
    ).toEqual(['/usr/bin/node', '/srv/a b/x.js', '--config-file=/etc/j.conf', 'q"x', 'a b', '100%']);
    expect(() => splitExecWords('/bin/echo "open', 'x.service')).toThrow(/x.service: unterminated quote/);
  });

  it('reads time spans', () => {
    expect(parseTimespan('95')).toBe(95);
    expect(parseTimespan('5s')).toBe(5);
    expect(parseTimespan('1min 30s')).toBe(90);
    expect(() => parseTimespan('soon', 'y.service')).toThrow(/y.service: bad time span: soon/);
  });

  it('reads the lines it honours and keeps $MAINPID for ExecReload', () => {
    const unit = parseUnitFile(
      'jobrunner.service',
      [
        '[Unit]',
        'ConditionPathExists=/srv/deployment/jobrunner/jobrunner/dist/cli/jobrunner.js',
        '[Service]',
        'Type=notify',
        'User=jobrunner',
        'Environment="NODE_OPTIONS=--max-old-space-size=1024" A=1',
        'ExecStart=/usr/bin/node /srv/x.js --config-file=/etc/jobrunner/jobrunner.conf',
        'ExecReload=/bin/kill -HUP $MAINPID',
        'KillMode=mixed',
        'KillSignal=SIGTERM',
        'TimeoutStopSec=95',
        'Restart=always',
        'RestartSec=5s',
      ].join('\n'),
    );
    expect(unit).toMatchObject({
      type: 'notify',
      user: 'jobrunner',
      environment: { NODE_OPTIONS: '--max-old-space-size=1024', A: '1' },
      execStart: ['/usr/bin/node', '/srv/x.js', '--config-file=/etc/jobrunner/jobrunner.conf'],
      execReload: ['/bin/kill', '-HUP', '$MAINPID'],
      killMode: 'mixed',
      killSignal: 'SIGTERM',
      timeoutStopSeconds: 95,
      restart: 'always',
      restartSeconds: 5,
      conditionPathExists: ['/srv/deployment/jobrunner/jobrunner/dist/cli/jobrunner.js'],
    });
  });

  it("starts a '!' ExecStart as root (User= does not apply), as systemd does", () => {
    const unit = parseUnitFile(
      'c.service',
      '[Service]\nUser=jobrunner\nExecStart=!/usr/bin/node /srv/x.js --user=jobrunner\n',
    );
    expect(unit.execStart).toEqual(['/usr/bin/node', '/srv/x.js', '--user=jobrunner']);
    expect(unit.execStartPrivileged).toBe(true);
    expect(parseUnitFile('d.service', '[Service]\nExecStart=/bin/true\n').execStartPrivileged).toBe(false);
  });

  it('refuses what it cannot honour, naming the unit', () => {
    expect(() => parseUnitFile('a.service', '[Service]\nType=simple\n')).toThrow('a.service: no ExecStart=');
    expect(() => parseUnitFile('b.service', '[Service]\nExecStart=/bin/true\nRestart=on-abnormal\n')).toThrow(
      'b.service: Restart=on-abnormal is not supported',
    );
  });

  it('names units as systemctl does', () => {
    expect(unitName('jobrunner')).toBe('jobrunner.service');
    expect(unitName('php8.2-fpm')).toBe('php8.2-fpm.service');
    expect(unitName('ssh.service')).toBe('ssh.service');
  });
});
