# frozen_string_literal: true

describe 'jobrunner::dsh' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:params) do
    { groups: { 'jobrunner-canary' => ['mw1306.eqiad.wmnet'], 'jobrunner' => ['mw1307.eqiad.wmnet', 'mw1308.eqiad.wmnet'] } }
  end

  it { is_expected.to compile.with_all_deps }

  it 'writes one host per line, in order, where scap looks for lists' do
    is_expected.to contain_file('/etc/dsh/group').with_ensure('directory')
    expect(catalogue.resource('File', '/etc/dsh/group/jobrunner')[:content])
      .to eq("# Managed by Puppet (jobrunner::dsh)\nmw1307.eqiad.wmnet\nmw1308.eqiad.wmnet\n")
    expect(catalogue.resource('File', '/etc/dsh/group/jobrunner-canary')[:content]).to end_with("mw1306.eqiad.wmnet\n")
  end

  context 'with a host in two groups' do
    let(:params) { { groups: { 'jobrunner-canary' => ['mw1306'], 'jobrunner' => ['mw1306', 'mw1307'] } } }

    it { is_expected.to compile.and_raise_error(%r{a host is listed twice}) }
  end

  context 'with a host name that is not one' do
    let(:params) { { groups: { 'jobrunner' => ['mw1306 mw1307'] } } }

    it { is_expected.to compile.and_raise_error(%r{groups}) }
  end
end
