# frozen_string_literal: true

describe 'jobrunner::appserver' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:params) do
    {
      listen_address: '10.64.0.12',
      allowed_sources: ['10.64.16.5', '10.64.17.0/24'],
      endpoint_files: {
        'rpc/RunJobs.php' => '/srv/config/rpc/RunJobs.php',
        'rpc/RunSingleJob.php' => '/srv/config/rpc/RunSingleJob.php',
      },
      event_secret: sensitive('0123456789abcdef0123456789abcdef'),
      pool_env: { 'MW_INSTALL_PATH' => '/srv/mediawiki/php' },
    }
  end
  let(:site) { catalogue.resource('File', '/etc/apache2/sites-enabled/50-jobrunner-rpc.conf')[:content] }
  let(:pool) { catalogue.resource('File', '/etc/php/8.2/fpm/pool.d/jobrunner-rpc.conf')[:content] }

  it { is_expected.to compile.with_all_deps }

  it 'copies the endpoint files below the docroot' do
    is_expected.to contain_file('/srv/mediawiki/docroot/jobrunner/rpc').with_ensure('directory')
    is_expected.to contain_file('/srv/mediawiki/docroot/jobrunner/rpc/RunJobs.php')
      .with(source: '/srv/config/rpc/RunJobs.php', mode: '0644')
    is_expected.to contain_file('/srv/mediawiki/docroot/jobrunner/rpc/RunSingleJob.php')
  end

  it 'listens on the internal address only and serves the endpoints to the runner hosts only' do
    expect(site).to include("Listen 10.64.0.12:9006\n", '<VirtualHost 10.64.0.12:9006>')
    expect(site).to include("Require all denied\n")
    expect(site.scan(%r{Require ip (.*)$}).flatten).to eq(['10.64.16.5 10.64.17.0/24'] * 2)
    expect(site).to include('<Location "/rpc/RunJobs.php">', '<Location "/rpc/RunSingleJob.php">')
    expect(site).to include('SetHandler "proxy:unix:/run/php/jobrunner-rpc.sock|fcgi://localhost"')
  end

  it 'hands the secret to PHP as a file only the pool user reads' do
    is_expected.to contain_file('/etc/jobrunner-appserver/event-secret')
      .with(owner: 'www-data', mode: '0400', show_diff: false)
      .that_notifies('Service[php8.2-fpm]')
    expect(pool).to include('env[JOBRUNNER_EVENT_SECRET_FILE] = "/etc/jobrunner-appserver/event-secret"')
    expect(pool).to include('env[MW_INSTALL_PATH] = "/srv/mediawiki/php"', "clear_env = yes\n")
    expect(pool).not_to include('0123456789abcdef')
  end

  it 'refreshes php-fpm and Apache (gracefully) on change' do
    is_expected.to contain_service('php8.2-fpm').with(ensure: 'running')
    is_expected.to contain_service('apache2').with(restart: '/usr/sbin/apachectl graceful')
    is_expected.to contain_file('/etc/apache2/mods-enabled/proxy_fcgi.load')
      .with(ensure: 'link').that_notifies('Service[apache2]')
  end

  context 'with a wildcard address' do
    let(:params) { super().merge(listen_address: '0.0.0.0') }

    it { is_expected.to compile.and_raise_error(%r{not a wildcard}) }
  end

  context 'with a short secret' do
    let(:params) { super().merge(event_secret: sensitive('short')) }

    it { is_expected.to compile.and_raise_error(%r{event_secret}) }
  end

  context 'with a pool environment value holding a quote' do
    let(:params) { super().merge(pool_env: { 'X' => 'a"b' }) }

    it { is_expected.to compile.and_raise_error(%r{pool_env}) }
  end
end
