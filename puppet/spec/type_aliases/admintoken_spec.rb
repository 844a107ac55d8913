# frozen_string_literal: true

describe 'Jobrunner::Admintoken' do
  ['0123456789abcdef0123456789abcdef', 'Zx9!k#Q2-uP8_rT5=mW3+vB7'].each do |value|
    it { is_expected.to allow_value(value) }
  end

  ['', 'x', 't0ken', '0123456789abcdef0123456', "0123456789abcdef 0123456789abcdef", "#{'a' * 30}\n"].each do |value|
    it { is_expected.not_to allow_value(value) }
  end
end
