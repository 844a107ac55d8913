# frozen_string_literal: true

describe 'jobrunner::scap_target' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'].merge(jobrunner_sudo_installed: true) }
  let(:key) { 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnly deploy-service@deploy1002' }
  let(:params) { { public_key: key } }

  it { is_expected.to compile.with_all_deps }

  it 'creates the deploy user with a login shell (scap runs deploy-local over ssh)' do
    is_expected.to contain_user('deploy-service').with(system: true, home: '/var/lib/scap', shell: '/bin/bash')
    is_expected.to contain_group('deploy-service').with(system: true)
  end

  it 'authorizes the deploy host key, private to the user' do
    is_expected.to contain_file('/var/lib/scap/.ssh').with(ensure: 'directory', owner: 'deploy-service', mode: '0700')
    is_expected.to contain_file('/var/lib/scap/.ssh/authorized_keys')
      .with(ensure: 'file', owner: 'deploy-service', mode: '0600', content: "#{key}\n")
  end

  it 'gives the deploy user the deploy directory' do
    is_expected.to contain_file('/srv/deployment').with(owner: 'root', mode: '0755')
    is_expected.to contain_file('/srv/deployment/jobrunner').with(ensure: 'directory', owner: 'deploy-service')
  end

  it 'lets scap restart and reload jobrunner, nothing else, checked by visudo' do
    is_expected.to contain_file('/etc/sudoers.d/jobrunner-scap')
      .with(mode: '0440', validate_cmd: '/usr/sbin/visudo -c -q -f %')
    rules = catalogue.resource('File', '/etc/sudoers.d/jobrunner-scap')[:content].lines.grep_v(%r{^#})
    expect(rules).to eq(["deploy-service ALL=(root) NOPASSWD: /usr/sbin/service jobrunner restart, /usr/sbin/service jobrunner reload\n"])
  end

  context 'without a key' do
    let(:params) { {} }

    it { is_expected.to contain_file('/var/lib/scap/.ssh/authorized_keys').with_ensure('absent') }
  end

  context 'without sudo installed' do
    let(:facts) { DEBIAN_FACTS['debian-12-x86_64'].merge(jobrunner_sudo_installed: false) }

    it { is_expected.not_to contain_file('/etc/sudoers.d/jobrunner-scap') }
  end

  context 'with a key that is not one authorized_keys line' do
    let(:params) { { public_key: "#{key}\ncommand=\"/bin/sh\" ssh-rsa AAAA" } }

    it { is_expected.to compile.and_raise_error(%r{public_key}) }
  end
end
