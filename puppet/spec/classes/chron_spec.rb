# frozen_string_literal: true

describe 'jobrunner::chron' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:params) do
    {
      config_file: '/etc/jobrunner/jobrunner.conf',
      script: '/srv/jr/dist/cli/jobchron.js',
      install_dir: '/srv/jr',
      node_binary: '/usr/bin/node',
      service_user: 'jobrunner',
      service_group: 'jobrunner',
    }
  end
  let(:unit) { file_content(catalogue, '/lib/systemd/system/jobchron.service') }

  it { is_expected.to compile.with_all_deps }

  it 'runs jobchron with a short stop timeout (it exits within 5 s) and full hardening' do
    expect(unit).to include("ExecStart=!/usr/bin/node --max-semi-space-size=1 /srv/jr/dist/cli/jobchron.js --config-file=/etc/jobrunner/jobrunner.conf " \
                            "--user=jobrunner --group=jobrunner\n")
    expect(unit).to include("TimeoutStopSec=30\n", "SyslogIdentifier=jobchron\n", "NoNewPrivileges=yes\n")
  end

  it { is_expected.to contain_service('jobchron').with(ensure: 'running', enable: true, restart: '/bin/systemctl reload jobchron.service') }

  context 'with a stop timeout too short for the 5 s exit' do
    let(:params) { super().merge(timeout_stop_sec: 5) }

    it { is_expected.to compile.and_raise_error(%r{timeout_stop_sec}) }
  end
end
