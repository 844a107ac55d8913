# The deploy host's scap target lists (scap/scap.cfg names them; scap reads /etc/dsh/group/<name>).
# Primary datacenter: canary first, then the rest; the passive datacenter's hosts get the same
# revision with `scap deploy -e passive` (no restart: Puppet masks the units there). Example names.
class { 'jobrunner::dsh':
  groups => {
    'jobrunner-canary'  => ['mw1306.eqiad.wmnet'],
    'jobrunner'         => ['mw1307.eqiad.wmnet', 'mw1308.eqiad.wmnet', 'mw1309.eqiad.wmnet', 'mw1310.eqiad.wmnet'],
    'jobrunner-passive' => ['mw2259.codfw.wmnet', 'mw2260.codfw.wmnet', 'mw2261.codfw.wmnet'],
    'jobrunner-beta'    => ['deployment-jobrunner04.deployment-prep.eqiad.wmflabs'],
  },
}
