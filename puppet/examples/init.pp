# A job-runner host in the active datacenter, sized like production (weights x 1.1 x CPUs).
# Try it with: puppet apply --noop --modulepath=<dir containing this module as "jobrunner"> examples/init.pp
class { 'jobrunner':
  redis_queues      => ['rdb1001.eqiad.wmnet', 'rdb1001.eqiad.wmnet:6380', 'rdb1003.eqiad.wmnet:6381'],
  redis_aggregators => ['rdb1001.eqiad.wmnet:6378', 'rdb1003.eqiad.wmnet:6378'],
  redis_password    => Sensitive('example-password'),
  dispatcher        => 'http://127.0.0.1:9006/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u',
  load_factor       => 1.1,
  groups            => {
    'basic'     => {
      'weight'       => 20,
      'include'      => ['*'],
      'exclude'      => ['AssembleUploadChunks', 'PublishStashedFile', 'uploadFromUrl', 'webVideoTranscode'],
      'low-priority' => ['cirrusSearchLinksUpdate', 'htmlCacheUpdate', 'refreshLinks'],
    },
    'translate' => { 'weight' => 1, 'include' => ['TranslationsUpdateJob'] },
    'upload'    => { 'weight' => 7, 'include' => ['AssembleUploadChunks', 'PublishStashedFile', 'uploadFromUrl'] },
    'transcode' => { 'runners' => 0, 'include' => ['webVideoTranscode'] },
  },
  limits            => {
    'attempts' => { '*' => 3, 'LocalPageMoveJob' => 6, 'renameUser' => 6 },
    'claimTTL' => { '*' => 3600, 'webVideoTranscode' => 86400 },
    'real'     => { '*' => 300, 'webVideoTranscode' => 86400 },
    'memory'   => { '*' => '300M' },
  },
  statsd_host       => 'statsd.eqiad.wmnet',
  admin_token       => Sensitive('example-admin-token-0123456789'),
  datacenter_mode   => 'active',
}
