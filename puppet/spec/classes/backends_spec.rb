# frozen_string_literal: true

require 'digest'
require 'json'

# backend => 'kafka' / 'memcached': their config sections come from typed parameters, so the
# rendered file passes `jobrunner --check-config` (test/integration/puppet-backends.test.ts runs a
# real apply of both and the daemons' check).
describe 'jobrunner' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:conf) { JSON.parse(file_content(catalogue, '/etc/jobrunner/jobrunner.conf')) }
  let(:fingerprint) { file_content(catalogue, '/etc/jobrunner/startup-settings.sha256') }
  let(:kafka) do
    {
      'brokers' => ['kafka1001.eqiad.wmnet:9092', 'kafka1002.eqiad.wmnet:9092'],
      'datacenter' => 'eqiad',
      'endpoint' => 'http://127.0.0.1:9006/rpc/RunSingleJob.php',
      'ruleDefaults' => { 'concurrency' => 10, 'retryFactor' => 1.5, 'ignoreStatus' => [412] },
      'rules' => {
        'video' => { 'types' => ['webVideoTranscode'], 'concurrency' => 2,
                     'partitioned' => { 'map' => { 'enwiki' => 0, 'dewiki' => 1 }, 'partitions' => 2 } },
      },
      'lowTraffic' => { 'excludeTypes' => ['webVideoTranscode'] },
      'dedup' => { 'prefix' => 'JRKQ' },
    }
  end
  let(:memcached) do
    {
      'servers' => ['mc1001.eqiad.wmnet:11211'],
      'wikis' => {
        'enwiki' => { 'dsn' => 'mysql:host=db1001;dbname=enwiki', 'user' => 'wikiuser',
                      'passwordFile' => '/etc/jobrunner/db-password' },
        'testwiki' => { 'dsn' => 'sqlite:/srv/sqlite/testwiki_jobqueue.sqlite' },
      },
      'staleAfterSeconds' => 120,
    }
  end

  context "with backend => 'kafka'" do
    let(:params) { { redis_queues: ['rdb1001.eqiad.wmnet'], backend: 'kafka', kafka: kafka } }

    it { is_expected.to compile.with_all_deps }

    it 'writes the kafka section as given and needs no dispatcher' do
      expect(conf['backend']).to eq('kafka')
      expect(conf['kafka']).to eq(kafka)
      expect(conf).not_to have_key('dispatcher')
      expect(conf).not_to have_key('memcached')
    end

    it 'runs the Kafka runner with 32 MB semi-spaces (it allocates per event), jobchron with 1 MB' do
      runner = file_content(catalogue, '/lib/systemd/system/jobrunner.service')
      expect(runner).to match(%r{^ExecStart=!\S+ --max-semi-space-size=32 \S+/jobrunner\.js })
      chron = file_content(catalogue, '/lib/systemd/system/jobchron.service')
      expect(chron).to match(%r{^ExecStart=!\S+ --max-semi-space-size=1 \S+/jobchron\.js })
    end

    # backend kafka does not reload: any change must restart, so the whole config is fingerprinted.
    it 'fingerprints the whole config as a startup setting' do
      expect(fingerprint.lines.last.strip).to eq(startup_digest('backend' => 'kafka', 'kafka' => conf))
    end

    context 'without the kafka section' do
      let(:params) { { redis_queues: ['rdb1001.eqiad.wmnet'], backend: 'kafka' } }

      it { is_expected.to compile.and_raise_error(%r{backend 'kafka' needs the kafka parameter \(brokers, datacenter, endpoint\)}) }
    end

    context 'with a broker without a port' do
      let(:params) { super().merge(kafka: kafka.merge('brokers' => ['kafka1001'])) }

      it { is_expected.to compile.and_raise_error(%r{kafka.*brokers}) }
    end

    context 'with an unknown key' do
      let(:params) { super().merge(kafka: kafka.merge('broker' => ['kafka1001:9092'])) }

      it { is_expected.to compile.and_raise_error(%r{kafka.*broker}) }
    end

    context 'with a non-HTTP endpoint' do
      let(:params) { super().merge(kafka: kafka.merge('endpoint' => 'ftp://x/RunSingleJob.php')) }

      it { is_expected.to compile.and_raise_error(%r{kafka.*endpoint}) }
    end
  end

  context "with backend => 'memcached'" do
    let(:params) do
      {
        redis_queues: ['rdb1001.eqiad.wmnet'],
        dispatcher: 'php /srv/mediawiki/multiversion/MWScript.php runJobs.php --wiki=%(db)x --type=%(type)x',
        backend: 'memcached',
        memcached: memcached,
      }
    end

    it { is_expected.to compile.with_all_deps }

    it 'writes the memcached section as given' do
      expect(conf['backend']).to eq('memcached')
      expect(conf['memcached']).to eq(memcached)
      expect(conf).not_to have_key('kafka')
    end

    it 'fingerprints the memcached section (its servers are connected at startup)' do
      expect(fingerprint.lines.last.strip).to eq(startup_digest('backend' => 'memcached', 'memcached' => memcached))
    end

    context 'without the memcached section' do
      let(:params) { super().reject { |k, _| k == :memcached } }

      it { is_expected.to compile.and_raise_error(%r{backend 'memcached' needs the memcached parameter \(servers, wikis\)}) }
    end

    context 'with a wiki without a DSN' do
      let(:params) { super().merge(memcached: memcached.merge('wikis' => { 'enwiki' => { 'user' => 'x' } })) }

      it { is_expected.to compile.and_raise_error(%r{memcached.*dsn}) }
    end

    context 'still without a dispatcher' do
      let(:params) { super().reject { |k, _| k == :dispatcher } }

      it { is_expected.to compile.and_raise_error(%r{dispatcher is required}) }
    end
  end

  context "with backend => 'redis'" do
    let(:params) do
      { redis_queues: ['rdb1001.eqiad.wmnet'], dispatcher: 'http://127.0.0.1:9006/rpc/RunJobs.php?wiki=%(db)u' }
    end

    it 'keeps the fingerprint of hosts that set neither section' do
      # As the module computed it before the kafka and memcached parameters existed: adding them
      # must not restart every redis host once.
      expected = startup_digest('backend' => 'redis')
      expect(fingerprint.lines.last.strip).to eq(expected)
    end
  end

  # SHA-256 of the startup settings (templates/startup-fingerprint.erb) of a host with no statsd,
  # log file or secrets, built from the rendered config; `extra` adds the kafka/memcached entries.
  def startup_digest(extra)
    settings = {
      'backend' => conf['backend'],
      'redis' => conf['redis'],
      'statsd' => nil,
      'status' => conf['status'],
      'logging.file' => nil,
      'secrets' => [nil, nil],
    }.merge(extra.reject { |k, _| k == 'backend' })
    Digest::SHA256.hexdigest(JSON.generate(settings))
  end
end
