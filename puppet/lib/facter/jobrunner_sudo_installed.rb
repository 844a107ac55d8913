# frozen_string_literal: true

# Whether sudo (its visudo, which validates the deploy rules) is installed: the jobrunner class
# writes its sudoers.d rules for the deploy user only then, rather than installing sudo itself.
Facter.add(:jobrunner_sudo_installed) do
  confine kernel: 'Linux'
  setcode { File.executable?('/usr/sbin/visudo') }
end
