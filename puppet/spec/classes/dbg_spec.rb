describe 'jobrunner' do
  let(:facts) { DEBIAN_FACTS['debian-12-x86_64'] }
  let(:params) { { redis_queues: ['a'], dispatcher: 'x' } }
  it do
    puts RSpec.configuration.module_path
    puts Puppet[:modulepath]
    puts Puppet[:environmentpath]
    is_expected.to compile
  end
end
