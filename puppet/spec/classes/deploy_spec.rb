# frozen_string_literal: true

# What the scap3 deploy checks need from the jobrunner class: their settings file
# (scap/scripts/lib/settings.mjs key names) and, where sudo is installed, the deploy user's rules.
describe 'jobrunner' do
  let(:base_params) do
    {
      redis_queues: ['rdb1001.eqiad.wmnet'],
      dispatcher: 'http://127.0.0.1:9006/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u',
    }
  end
  let(:params) { base_params }
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:settings_file) { '/etc/default/jobrunner-deploy-checks' }
  let(:sudoers_file) { '/etc/sudoers.d/jobrunner-deploy' }
  # Exactly these actions: no '*' that would pass any argument to service as root.
  let(:jobchron_actions) do
    %w[start stop restart reload status].map { |action| "/usr/sbin/service jobchron #{action}" }.join(', ')
  end
  let(:settings) { file_content(catalogue, settings_file).lines.reject { |l| l.start_with?('#') }.map(&:chomp) }

  context 'with the defaults on a host without sudo' do
    it { is_expected.to compile.with_all_deps }
    it { is_expected.to contain_class('jobrunner::deploy').that_requires('Class[jobrunner::install]') }

    it 'writes the check settings: live config, node, service user; no canary wiki' do
      is_expected.to contain_file(settings_file).with(ensure: 'file', owner: 'root', group: 'root', mode: '0644')
      expect(settings).to eq([
                               'JOBRUNNER_CONFIG_FILE=/etc/jobrunner/jobrunner.conf',
                               'JOBRUNNER_NODE=/usr/bin/node',
                               'JOBRUNNER_CHECK_USER=jobrunner',
                             ])
    end

    it 'leaves sudo alone (fact jobrunner_sudo_installed not true)' do
      is_expected.not_to contain_file(sudoers_file)
    end
  end

  context 'on a canary with more settings, a custom service user and paths' do
    let(:params) do
      base_params.merge(
        deploy_canary_wiki: 'testwiki',
        deploy_check_settings: { 'JOBRUNNER_ERROR_WINDOW' => 60, 'JOBRUNNER_CANARY_JOBS' => 5,
                                 'JOBRUNNER_ERROR_MAX_RATIO' => 0.2 },
        service_user: 'www-data',
        service_group: 'www-data',
        manage_user: false,
        config_dir: '/srv/jobrunner-etc',
        node_binary: '/opt/node20/bin/node',
      )
    end

    it 'names the canary wiki after the managed keys, then the others sorted' do
      expect(settings).to eq([
                               'JOBRUNNER_CONFIG_FILE=/srv/jobrunner-etc/jobrunner.conf',
                               'JOBRUNNER_NODE=/opt/node20/bin/node',
                               'JOBRUNNER_CHECK_USER=www-data',
                               'JOBRUNNER_CANARY_WIKI=testwiki',
                               'JOBRUNNER_CANARY_JOBS=5',
                               'JOBRUNNER_ERROR_MAX_RATIO=0.2',
                               'JOBRUNNER_ERROR_WINDOW=60',
                             ])
    end
  end

  context 'where sudo is installed' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'].merge(jobrunner_sudo_installed: true) }
    let(:rules) { file_content(catalogue, sudoers_file).lines.reject { |l| l.start_with?('#') }.map(&:chomp) }

    it { is_expected.to compile.with_all_deps }

    it 'lets deploy-service restart jobchron and run the checks of a revision as the service user' do
      is_expected.to contain_file(sudoers_file)
        .with(ensure: 'file', owner: 'root', group: 'root', mode: '0440', validate_cmd: '/usr/sbin/visudo -c -q -f %')
      expect(rules).to eq([
                            "deploy-service ALL=(root) NOPASSWD: #{jobchron_actions}",
                            'deploy-service ALL=(jobrunner) NOPASSWD: /usr/bin/node ' \
                            '/srv/deployment/jobrunner/jobrunner-cache/revs/*/scap/scripts/*',
                          ])
    end

    context 'with another deploy user, service user and bundle path' do
      let(:params) do
        base_params.merge(deploy_user: 'scap', service_user: 'mwjobs', service_group: 'mwjobs',
                          install_dir: '/srv/deploy:1/jobrunner', node_binary: '/usr/local/bin/node')
      end

      it 'uses them, escaping ":" as sudoers needs' do
        expect(rules).to eq([
                              "scap ALL=(root) NOPASSWD: #{jobchron_actions}",
                              'scap ALL=(mwjobs) NOPASSWD: /usr/local/bin/node ' \
                              '/srv/deploy\:1/jobrunner-cache/revs/*/scap/scripts/*',
                            ])
      end
    end

    context 'with manage_deploy_sudo => false' do
      let(:params) { base_params.merge(manage_deploy_sudo: false) }

      it { is_expected.to contain_file(sudoers_file).with_ensure('absent') }
    end
  end

  context 'with manage_deploy_checks => false' do
    let(:params) { base_params.merge(manage_deploy_checks: false) }

    it { is_expected.to compile.with_all_deps }
    it { is_expected.not_to contain_file(settings_file) }
  end

  context 'with invalid deploy check input' do
    context 'a setting the checks do not know' do
      let(:params) { base_params.merge(deploy_check_settings: { 'JOBRUNNER_CANARY_WIKIS' => 'x' }) }

      it { is_expected.to compile.and_raise_error(%r{deploy_check_settings}) }
    end

    context 'a managed setting given as an extra one' do
      let(:params) { base_params.merge(deploy_check_settings: { 'JOBRUNNER_CHECK_USER' => 'root' }) }

      it { is_expected.to compile.and_raise_error(%r{deploy_check_settings}) }
    end

    context 'a canary wiki with a space' do
      let(:params) { base_params.merge(deploy_canary_wiki: 'test wiki') }

      it { is_expected.to compile.and_raise_error(%r{deploy_canary_wiki}) }
    end

    context 'a deploy user that is not a user name' do
      let(:params) { base_params.merge(deploy_user: 'deploy service ALL=(ALL) ALL') }

      it { is_expected.to compile.and_raise_error(%r{deploy_user}) }
    end
  end
end
