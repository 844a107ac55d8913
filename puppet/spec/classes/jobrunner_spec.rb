# frozen_string_literal: true

require 'json'

describe 'jobrunner' do
  let(:base_params) do
    {
      redis_queues: ['rdb1001.eqiad.wmnet', 'rdb1001.eqiad.wmnet:6380'],
      dispatcher: 'http://127.0.0.1:9006/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u',
    }
  end
  let(:params) { base_params }
  let(:conf) { JSON.parse(file_content(catalogue, '/etc/jobrunner/jobrunner.conf')) }

  DEBIAN_FACTS.each do |os, os_facts|
    context "on #{os} with the minimal parameters" do
      let(:facts) { os_facts }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.to contain_class('jobrunner::install').that_comes_before('Class[jobrunner::config]') }
      it { is_expected.to contain_class('jobrunner::runner').that_requires('Class[jobrunner::config]') }
      it { is_expected.to contain_class('jobrunner::chron').that_requires('Class[jobrunner::config]') }
      it { is_expected.to contain_user('jobrunner').with(system: true, gid: 'jobrunner', shell: '/usr/sbin/nologin') }

      it 'writes the config readable by the service group only, reloading both daemons on change' do
        is_expected.to contain_file('/etc/jobrunner/jobrunner.conf')
          .with(owner: 'root', group: 'jobrunner', mode: '0440')
          .that_notifies(['Service[jobrunner]', 'Service[jobchron]'])
        expect(catalogue.resource('File', '/etc/jobrunner/jobrunner.conf')[:validate_cmd])
          .to eq('test ! -e /srv/deployment/jobrunner/jobrunner/dist/cli/jobrunner.js || /usr/bin/node ' \
                 '/srv/deployment/jobrunner/jobrunner/dist/cli/jobrunner.js --check-config --config-file=%')
      end

      it 'renders the defaults: aggregators = queues, one basic group sized by the CPU count (2)' do
        expect(conf['groups']).to eq('basic' => { 'runners' => 2, 'include' => ['*'] })
        expect(conf['redis']).to eq('aggregators' => base_params[:redis_queues], 'queues' => base_params[:redis_queues])
        expect(conf['runner']).to eq('drainTimeoutSeconds' => 60, 'killGraceSeconds' => 5)
        expect(conf.keys).not_to include('statsd', 'limits', 'chron', 'dispatch')
        expect(catalogue.resource('File', '/etc/jobrunner/jobrunner.conf').sensitive_parameters).to be_empty
      end

      it 'runs both services with a reload as refresh' do
        is_expected.to contain_service('jobrunner')
          .with(ensure: 'running', enable: true, restart: '/bin/systemctl reload jobrunner.service')
        is_expected.to contain_service('jobchron')
          .with(ensure: 'running', enable: true, restart: '/bin/systemctl reload jobchron.service')
      end

      it 'installs units where masking can overlay them, restarting (not reloading) on unit changes' do
        is_expected.to contain_file('/lib/systemd/system/jobrunner.service').with_mode('0644')
        is_expected.to contain_exec('jobrunner: restart jobrunner.service')
          .with(refreshonly: true, command: 'systemctl daemon-reload && systemctl try-restart jobrunner.service')
          .that_subscribes_to('File[/lib/systemd/system/jobrunner.service]')
          .that_comes_before('Service[jobrunner]')
      end

      it 'restarts (not reloads) both daemons when a setting read only at startup changes' do
        is_expected.to contain_file('/etc/jobrunner/startup-settings.sha256')
          .with(owner: 'root', mode: '0400')
          .that_requires('File[/etc/jobrunner/jobrunner.conf]')
          .that_notifies(['Exec[jobrunner: restart jobrunner.service]', 'Exec[jobrunner: restart jobchron.service]'])
        expect(file_content(catalogue, '/etc/jobrunner/startup-settings.sha256')).to match(%r{^\h{64}$})
      end

      it { is_expected.to contain_file('/etc/logrotate.d/jobrunner').with_ensure('absent') }
      it { is_expected.to contain_file('/etc/jobrunner/admin-token').with_ensure('absent') }
    end
  end

  context 'with every section set (production-like host)' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
    let(:params) do
      base_params.merge(
        redis_aggregators: ['rdb1001.eqiad.wmnet:6378', '[2001:db8::1]:6378'],
        redis_password: sensitive('s3cret'),
        redis_connect_timeout_ms: 2000,
        groups: {
          'basic' => { 'weight' => 20, 'include' => ['*'], 'exclude' => ['webVideoTranscode'],
                       'low-priority' => ['refreshLinks'] },
          'upload' => { 'weight' => 7, 'include' => ['AssembleUploadChunks'] },
          'transcode' => { 'runners' => 0, 'include' => ['webVideoTranscode'] },
        },
        load_factor: 1.1,
        processor_count: 24,
        limits: { 'claimTTL' => { '*' => 3600, 'webVideoTranscode' => 86_400 }, 'memory' => { '*' => '300M' } },
        runner_settings: { 'maxPerQueue' => 3 },
        drain_timeout_seconds: 120,
        chron_settings: { 'intervalMs' => 2000 },
        statsd_host: 'statsd.eqiad.wmnet',
        admin_token: sensitive('t0ken-0123456789abcdef-xyz'),
        log_level: 'debug',
        log_file: '/var/log/jobrunner/jobrunner.log',
        service_user: 'www-data',
        service_group: 'www-data',
        manage_user: false,
      )
    end

    it { is_expected.to compile.with_all_deps }
    it { is_expected.not_to contain_user('www-data') }

    it 'sizes the weighted groups (ceil(w / 27 x floor(1.1 x 24))) and keeps the fixed one' do
      expect(conf['groups'].transform_values { |g| g['runners'] }).to eq('basic' => 20, 'upload' => 7, 'transcode' => 0)
      expect(conf['groups'].keys).to eq(%w[basic upload transcode])
      expect(conf['groups']['basic']['low-priority']).to eq(['refreshLinks'])
    end

    it 'writes every section with the schema key names' do
      expect(conf['redis']).to include('password' => 's3cret', 'connectTimeoutMs' => 2000,
                                         'aggregators' => ['rdb1001.eqiad.wmnet:6378', '[2001:db8::1]:6378'])
      expect(conf['statsd']).to eq('host' => 'statsd.eqiad.wmnet', 'port' => 8125, 'prefix' => 'jobrunner')
      expect(conf['runner']).to eq('maxPerQueue' => 3, 'drainTimeoutSeconds' => 120, 'killGraceSeconds' => 5)
      expect(conf['chron']).to eq('intervalMs' => 2000)
      expect(conf['status']).to include('adminTokenFile' => '/etc/jobrunner/admin-token',
                                        'allowedHosts' => [facts[:networking]['fqdn']])
      expect(conf['logging']).to eq('level' => 'debug', 'file' => '/var/log/jobrunner/jobrunner.log')
    end

    it 'keeps secrets out of reports: Sensitive config content, 0400 admin token owned by root' do
      expect(catalogue.resource('File', '/etc/jobrunner/jobrunner.conf').sensitive_parameters).to include(:content)
      is_expected.to contain_file('/etc/jobrunner/admin-token')
        .with(ensure: 'file', owner: 'root', group: 'root', mode: '0400', show_diff: false)
        .that_comes_before('File[/etc/jobrunner/jobrunner.conf]')
      expect(file_content(catalogue, '/etc/jobrunner/admin-token')).to eq('t0ken-0123456789abcdef-xyz')
    end

    it 'rotates the log file by signalling the daemons, never restarting them' do
      is_expected.to contain_file('/var/log/jobrunner').with(ensure: 'directory', owner: 'root', mode: '0755')
      is_expected.to contain_file('/var/log/jobrunner/jobrunner.log').with(owner: 'www-data', mode: '0640')
      rule = file_content(catalogue, '/etc/logrotate.d/jobrunner')
      expect(rule).to include('/var/log/jobrunner/jobrunner.log {', 'create 0640 www-data www-data')
      postrotate = rule[%r{postrotate\n(.*)endscript}m, 1]
      expect(postrotate).to include('kill -USR1')
      expect(postrotate).not_to match(%r{restart|reload|stop})
    end

    it 'gives the runner a stop timeout longer than its drain (120 + 5 + 30 s)' do
      expect(file_content(catalogue, '/lib/systemd/system/jobrunner.service')).to include("TimeoutStopSec=155\n")
    end
  end

  context 'with Special:RunJobs dispatch' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
    let(:params) do
      {
        redis_queues: ['127.0.0.1'],
        dispatch_kind: 'special-runjobs',
        dispatch_base_urls: { '*' => 'https://%(db)u.example.org/w/index.php' },
        mediawiki_secret_key: sensitive('wg-secret'),
      }
    end

    it 'writes the secret key to a 0400 file and references it by path' do
      is_expected.to contain_file('/etc/jobrunner/mediawiki-secret-key')
        .with(ensure: 'file', owner: 'jobrunner', mode: '0400')
      expect(conf['dispatch']).to eq('kind' => 'special-runjobs',
                                       'baseUrls' => { '*' => 'https://%(db)u.example.org/w/index.php' },
                                       'secretKeyFile' => '/etc/jobrunner/mediawiki-secret-key')
      expect(conf).not_to have_key('dispatcher')
    end

    context 'without the secret key' do
      let(:params) { super().reject { |k, _| k == :mediawiki_secret_key } }

      it { is_expected.to compile.and_raise_error(%r{special-runjobs needs mediawiki_secret_key}) }
    end
  end

  context 'in the passive datacenter' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
    let(:params) { base_params.merge(datacenter_mode: 'passive', runner_ensure: 'running') }

    it 'stops and masks both units but keeps them installed' do
      is_expected.to contain_service('jobrunner').with(ensure: 'stopped', enable: 'mask')
      is_expected.to contain_service('jobchron').with(ensure: 'stopped', enable: 'mask')
      is_expected.to contain_file('/lib/systemd/system/jobrunner.service').with_ensure('file')
      is_expected.to contain_file('/lib/systemd/system/jobchron.service').with_ensure('file')
    end
  end

  context 'on a runner-only host (chron_masked)' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
    let(:params) { base_params.merge(chron_ensure: 'stopped', chron_enable: false, chron_masked: true) }

    it 'masks jobchron so a deploy cannot start it, and leaves jobrunner alone' do
      is_expected.to contain_service('jobchron').with(ensure: 'stopped', enable: 'mask')
      is_expected.to contain_service('jobrunner').with(ensure: 'running', enable: true)
    end
  end

  context 'with per-service states and unmanaged services' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }

    context 'chron stopped and disabled' do
      let(:params) { base_params.merge(chron_ensure: 'stopped', chron_enable: false) }

      it { is_expected.to contain_service('jobchron').with(ensure: 'stopped', enable: false) }
      it { is_expected.to contain_service('jobrunner').with(ensure: 'running', enable: true) }
    end

    context 'manage_services => false' do
      let(:params) { base_params.merge(manage_services: false) }

      it { is_expected.to compile.with_all_deps }
      it { is_expected.not_to contain_service('jobrunner') }
      it { is_expected.to contain_file('/lib/systemd/system/jobchron.service') }
    end
  end

  context 'with invalid input' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }

    context 'no dispatcher' do
      let(:params) { { redis_queues: ['127.0.0.1'] } }

      it { is_expected.to compile.and_raise_error(%r{dispatcher is required unless dispatch_kind is special-runjobs}) }
    end

    context 'an http dispatch kind with a command dispatcher' do
      let(:params) { base_params.merge(dispatch_kind: 'http', dispatcher: 'php runJobs.php') }

      it { is_expected.to compile.and_raise_error(%r{dispatch_kind http needs an http:// or https:// dispatcher}) }
    end

    context 'a queue server listed twice' do
      let(:params) { base_params.merge(redis_queues: ['rdb1:6380', 'rdb1:6380']) }

      it { is_expected.to compile.and_raise_error(%r{redis_queues lists a server twice}) }
    end

    context 'a plain-text Redis password' do
      let(:params) { base_params.merge(redis_password: 'plain') }

      it { is_expected.to compile.and_raise_error(%r{redis_password.*expects a value of type Undef or Sensitive}) }
    end

    context 'a bad Redis address' do
      let(:params) { base_params.merge(redis_queues: ['rdb1001 :6379']) }

      it { is_expected.to compile.and_raise_error(%r{redis_queues}) }
    end

    context 'a runner count given as a string' do
      let(:params) { base_params.merge(groups: { 'basic' => { 'runners' => '5', 'include' => ['*'] } }) }

      it { is_expected.to compile.and_raise_error(%r{groups}) }
    end
  end
  context 'unit hardening from the class parameters' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
    let(:params) do
      base_params.merge(log_file: '/srv/logs/jobrunner/jobrunner.log', unit_ip_address_allow: ['localhost', '10.0.0.0/8'])
    end
    let(:unit) { file_content(catalogue, '/lib/systemd/system/jobrunner.service') }

    it 'lets the daemons write their log, filters IP addresses and removes IPC of its own user' do
      expect(unit).to include("ReadWritePaths=-/srv/logs/jobrunner\n", "IPAddressDeny=any\n",
                              "IPAddressAllow=localhost 10.0.0.0/8\n", "RemoveIPC=yes\n")
      expect(file_content(catalogue, '/lib/systemd/system/jobchron.service')).to include("RemoveIPC=yes\n")
    end

    context 'with a shared service user' do
      let(:params) { base_params.merge(service_user: 'www-data', service_group: 'www-data', manage_user: false) }

      it "keeps that user's IPC objects at stop" do
        expect(unit).not_to include('RemoveIPC')
      end
    end
  end
end
