# frozen_string_literal: true

describe 'jobrunner::runner' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:required) do
    {
      config_file: '/etc/jobrunner/jobrunner.conf',
      script: '/srv/jr/dist/cli/jobrunner.js',
      install_dir: '/srv/jr',
      node_binary: '/usr/bin/node',
      service_user: 'jobrunner',
      service_group: 'jobrunner',
    }
  end
  let(:params) { required }
  let(:unit) { file_content(catalogue, '/lib/systemd/system/jobrunner.service') }

  context 'with defaults' do
    it { is_expected.to compile.with_all_deps }

    it 'gives the running children the drain period (KillMode=mixed, stop after drain + grace + margin)' do
      expect(unit).to include("KillMode=mixed\n", "TimeoutStopSec=95\n", "Restart=always\n")
      expect(unit).to include("ExecReload=/bin/kill -HUP $MAINPID\n")
    end

    it 'signals readiness through sd_notify and waits for the bundle' do
      expect(unit).to include("Type=notify\n", "NotifyAccess=all\n",
                              "ConditionPathExists=/srv/jr/dist/cli/jobrunner.js\n")
      expect(unit).to include("ExecStart=!/usr/bin/node --max-semi-space-size=1 /srv/jr/dist/cli/jobrunner.js --config-file=/etc/jobrunner/jobrunner.conf " \
                              "--user=jobrunner --group=jobrunner\n")
    end

    it 'hardens without breaking PHP children (no JIT or umask restrictions)' do
      expect(unit).to include("NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "PrivateTmp=yes\n",
                              "PrivateMounts=yes\n", "CapabilityBoundingSet=CAP_SETUID CAP_SETGID\n", "ProtectProc=invisible\n",
                              "ProcSubset=pid\n", "SystemCallFilter=@system-service\n")
      expect(unit.scan(%r{^ReadWritePaths=.*$})).to eq(%w[/srv /var/cache /var/lib /var/log /var/tmp].map { |p| "ReadWritePaths=-#{p}" })
      expect(unit).not_to match(%r{^(MemoryDenyWriteExecute|UMask|PrivateDevices|DynamicUser|IPAddressDeny|RemoveIPC)=})
    end
  end

  context 'with a fractional drain timeout, environment and extra arguments' do
    let(:params) do
      required.merge(drain_timeout_seconds: 300.5, kill_grace_seconds: 10, stop_margin_seconds: 20,
                     environment: { 'NODE_OPTIONS' => '--max-old-space-size=512 --trace-warnings' },
                     extra_args: ['--verbose', '50%$x'])
    end

    it 'rounds the stop timeout up and quotes for systemd' do
      expect(unit).to include("TimeoutStopSec=331\n")
      expect(unit).to include(%(Environment="NODE_OPTIONS=--max-old-space-size=512 --trace-warnings"\n))
      expect(unit).to include(%(--config-file=/etc/jobrunner/jobrunner.conf --user=jobrunner --group=jobrunner --verbose "50%%$$x"\n))
    end
  end

  context 'with node_flags' do
    let(:params) { required.merge(node_flags: ['--max-semi-space-size=16', '--max-old-space-size=512']) }

    it 'runs node with them instead of the default' do
      expect(unit).to include('ExecStart=!/usr/bin/node --max-semi-space-size=16 --max-old-space-size=512 /srv/jr/dist/cli/jobrunner.js ')
    end
  end

  context 'with allow_setuid_children' do
    let(:params) { required.merge(allow_setuid_children: true) }

    it 'drops the options that imply no_new_privs and keeps the mount-based ones' do
      expect(unit).not_to match(%r{^(NoNewPrivileges|RestrictSUIDSGID|SystemCallFilter|ProtectKernelTunables|RestrictNamespaces|CapabilityBoundingSet|ProtectProc)=})
      expect(unit).to include("ProtectSystem=strict\n", "ProtectHome=read-only\n", "PrivateMounts=yes\n")
    end
  end

  context 'masked' do
    let(:params) { required.merge(masked: true, ensure: 'stopped') }

    it { is_expected.to contain_service('jobrunner').with(ensure: 'stopped', enable: 'mask') }
  end
end
