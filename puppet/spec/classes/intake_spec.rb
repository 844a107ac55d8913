# frozen_string_literal: true

describe 'jobrunner::intake' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:params) do
    {
      config_file: '/etc/jobrunner/jobrunner.conf',
      script: '/srv/jr/dist/cli/jobrunner-intake.js',
      install_dir: '/srv/jr',
    }
  end
  let(:unit) { file_content(catalogue, '/lib/systemd/system/jobrunner-intake.service') }

  it { is_expected.to compile.with_all_deps }

  it 'runs jobrunner-intake with the same config file and full hardening' do
    expect(unit).to include("ExecStart=!/usr/bin/node --max-semi-space-size=1 /srv/jr/dist/cli/jobrunner-intake.js --config-file=/etc/jobrunner/jobrunner.conf " \
                            "--user=jobrunner --group=jobrunner\n")
    expect(unit).to include("TimeoutStopSec=30\n", "SyslogIdentifier=jobrunner-intake\n", "NoNewPrivileges=yes\n")
  end

  it { is_expected.to contain_service('jobrunner-intake').with(ensure: 'running', enable: true) }

  context 'when masked' do
    let(:params) { super().merge(masked: true, ensure: 'stopped') }

    it { is_expected.to contain_service('jobrunner-intake').with(ensure: 'stopped', enable: 'mask') }
  end
end
