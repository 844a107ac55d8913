# frozen_string_literal: true

# rspec-puppet setup that runs with plain `rspec` from the module root (Debian's packaged gems,
# no bundler).
require 'fileutils'
require 'tmpdir'

# puppetlabs_spec_helper reads MODULEPATH when it is loaded, so this comes first. The module is
# exposed to Puppet as "jobrunner" through a temporary modulepath, because the checkout directory
# is called "puppet"; `rake spec` links it into spec/fixtures/modules instead.
module_root = File.expand_path('..', __dir__)
modulepath = Dir.mktmpdir('jobrunner-modulepath')
File.symlink(module_root, File.join(modulepath, 'jobrunner'))
at_exit { FileUtils.remove_entry(modulepath) }
ENV['MODULEPATH'] = modulepath

# Chosen before puppetlabs_spec_helper loads, so it does not fall back to mocha.
RSpec.configure { |c| c.mock_with :rspec }
require 'puppetlabs_spec_helper/module_spec_helper'
require 'rspec-puppet-facts'

include RspecPuppetFacts

# facterdb in Debian bookworm (1.12.1) has no Debian 12 fact set, so the Debian 11 set is used
# with the release facts of Debian 12 (the release metadata.json supports).
DEBIAN_FACTS = begin
  base = on_supported_os(
    supported_os: [{ 'operatingsystem' => 'Debian', 'operatingsystemrelease' => ['11'] }],
  ).values.first
  raise 'facterdb has no Debian 11 facts: is ruby-rspec-puppet-facts installed?' if base.nil?

  os = base[:os].merge('release' => { 'full' => '12.5', 'major' => '12', 'minor' => '5' },
                       'distro' => base[:os]['distro'].merge('codename' => 'bookworm'))
  { 'debian-12-x86_64' => base.merge(os: os) }
end

RSpec.configure do |c|
  # rspec-puppet would otherwise link the module into spec/fixtures/modules: a symlink loop in
  # the source tree that also makes rspec find every spec twice.
  c.setup_fixtures = false
  c.strict_variables = true
  c.before(:each) { Puppet[:strict] = :error }
end

# The Sensitive file content (or the plain one) as a String.
def file_content(catalogue, path)
  content = catalogue.resource('File', path)[:content]
  content.respond_to?(:unwrap) ? content.unwrap : content
end
