# frozen_string_literal: true

describe 'Jobrunner::Redisaddress' do
  ['rdb1001.eqiad.wmnet', 'rdb1001.eqiad.wmnet:6380', '127.0.0.1:6379', '[::1]:6380', '[2001:db8::1]', '::1'].each do |value|
    it { is_expected.to allow_value(value) }
  end

  ['', 'rdb1001 :6379', 'redis://rdb1001', 'host:port', '[::1]:x'].each do |value|
    it { is_expected.not_to allow_value(value) }
  end
end
