<?php
/**
 * jobrunner test farm: the one settings file (env MW_CONFIG_FILE) shared by every wiki of the farm.
 *
 * Copied into the farm directory by scripts/mw-farm.sh; everything it needs is relative to __DIR__,
 * so a built farm can be copied elsewhere and still work.
 *
 * Wiki selection, first match wins: --wiki (constant MW_WIKI_NAME), env MW_WIKI_NAME, the `wiki`
 * query parameter on web requests, else the first wiki.
 *
 * Environment:
 *   JOBRUNNER_FARM_QUEUE           redis (default) | db (core JobQueueDB in <wiki>_jobqueue.sqlite)
 *                                  | eventbus (EventBus's JobQueueEventBus; needs the next two)
 *   JOBRUNNER_FARM_EVENTBUS        directory of the EventBus extension (REL1_39) to load
 *   JOBRUNNER_FARM_EVENT_SERVICE   URL EventBus POSTs events to (an EventGate-style /v1/events)
 *   JOBRUNNER_FARM_REDIS           host:port of the job-queue Redis (required in redis mode)
 *   JOBRUNNER_FARM_REDIS_PARTITIONS  host:port,host:port,... = each wiki's queue on one of these
 *                                  partitions (wiki N of wikis.list on partition N mod count),
 *                                  instead of JOBRUNNER_FARM_REDIS (multi-host rehearsal)
 *   JOBRUNNER_FARM_REDIS_PASSWORD  optional Redis password
 *   JOBRUNNER_FARM_GZIP            1 = JobQueueRedis 'compression' => 'gzip'
 *   JOBRUNNER_FARM_MEMCACHED       host:port = main cache in memcached (default: no main cache)
 *   JOBRUNNER_FARM_DEBUG_LOG       1 = debug log groups runJobs, JobExecutor, redis, ... in logs/
 *   JOBRUNNER_FARM_UNSIGNED_EVENTS 1 = rpc/RunSingleJob.php also runs events without mediawiki_signature
 *   JOBRUNNER_FARM_EVENT_SOURCES   comma-separated IPs/CIDRs = $wgRunSingleJobAllowedSources
 *   JOBRUNNER_FARM_DB_SERVERS      MariaDB farms (mw-farm.sh --db mysql): "s1=host:port,s2=..."; each
 *                                  wiki's server is its section's (db-sections.list); password in db.pass
 *   JOBRUNNER_FARM_CLAIM_TTL       MariaDB farms, queue db: JobQueueDB claimTTL in seconds (default 3600)
 */

if ( !defined( 'MEDIAWIKI' ) ) {
	exit( 1 );
}

$mwfarmDir = __DIR__;
$mwfarmWeb = PHP_SAPI !== 'cli' && PHP_SAPI !== 'phpdbg';

/** Stops start-up with a one-line message: exit 1 on the CLI, an HTTP error on the web. */
function mwfarmFail( string $message, int $httpStatus ): void {
	global $mwfarmWeb;
	if ( $mwfarmWeb ) {
		http_response_code( $httpStatus );
		header( 'Content-Type: text/plain; charset=utf-8' );
	}
	print "mwfarm: $message\n";
	exit( 1 );
}

$mwfarmWikis = [];
foreach ( file( "$mwfarmDir/wikis.list", FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES ) ?: [] as $mwfarmLine ) {
	$mwfarmWikis[] = trim( $mwfarmLine );
}
if ( !$mwfarmWikis ) {
	mwfarmFail( "no wikis listed in $mwfarmDir/wikis.list", 500 );
}

if ( defined( 'MW_WIKI_NAME' ) ) {
	$mwfarmWiki = MW_WIKI_NAME;
} elseif ( getenv( 'MW_WIKI_NAME' ) !== false && getenv( 'MW_WIKI_NAME' ) !== '' ) {
	$mwfarmWiki = getenv( 'MW_WIKI_NAME' );
} elseif ( $mwfarmWeb && isset( $_GET['wiki'] ) && is_string( $_GET['wiki'] ) ) {
	$mwfarmWiki = $_GET['wiki'];
} else {
	$mwfarmWiki = $mwfarmWikis[0];
}
if ( !in_array( $mwfarmWiki, $mwfarmWikis, true ) ) {
	mwfarmFail( "unknown wiki '$mwfarmWiki'", 404 );
}

// The installer's output for this wiki (database name, SQLite paths, site name, skin).
require "$mwfarmDir/wikis/$mwfarmWiki/LocalSettings.php";

// MariaDB farms: this wiki's section server and the one password file (mw-farm.sh --db mysql).
if ( $wgDBtype === 'mysql' ) {
	$mwfarmServers = [];
	foreach ( explode( ',', (string)getenv( 'JOBRUNNER_FARM_DB_SERVERS' ) ) as $mwfarmPair ) {
		if ( strpos( $mwfarmPair, '=' ) !== false ) {
			[ $mwfarmName, $mwfarmAddress ] = explode( '=', $mwfarmPair, 2 );
			$mwfarmServers[$mwfarmName] = $mwfarmAddress;
		}
	}
	$mwfarmSection = null;
	foreach ( file( "$mwfarmDir/db-sections.list", FILE_IGNORE_NEW_LINES | FILE_SKIP_EMPTY_LINES ) ?: [] as $mwfarmLine ) {
		$mwfarmParts = preg_split( '/\s+/', trim( $mwfarmLine ) );
		if ( $mwfarmParts[0] === $mwfarmWiki ) {
			$mwfarmSection = $mwfarmParts[1] ?? null;
		}
	}
	if ( $mwfarmSection === null || !isset( $mwfarmServers[$mwfarmSection] ) ) {
		mwfarmFail( "no database server for wiki '$mwfarmWiki' (section " . ( $mwfarmSection ?? 'unknown' ) .
			'; set env JOBRUNNER_FARM_DB_SERVERS)', 500 );
	}
	$wgDBserver = $mwfarmServers[$mwfarmSection];
	$wgDBpassword = trim( (string)file_get_contents( "$mwfarmDir/db.pass" ) );
	// JobQueueDB in the wiki's own database, as the legacy era ran it (the installer sets no queue).
	$wgJobTypeConf['default'] = [
		'class' => 'JobQueueDB',
		'order' => 'random',
		'claimTTL' => (int)( getenv( 'JOBRUNNER_FARM_CLAIM_TTL' ) ?: 3600 ),
	];
}

$wgLocalDatabases = $mwfarmWikis;
$wgServer = $mwfarmWeb ? WebRequest::detectServer() : 'http://127.0.0.1';
$wgSecretKey = trim( (string)file_get_contents( "$mwfarmDir/secret.key" ) );
if ( strlen( $wgSecretKey ) < 32 ) {
	mwfarmFail( "$mwfarmDir/secret.key is missing or too short", 500 );
}
$wgTmpDirectory = "$mwfarmDir/tmp";
$wgCacheDirectory = "$mwfarmDir/cache";
$wgUploadDirectory = "$mwfarmDir/tmp/images";
$wgEnableEmail = false;
$wgShowExceptionDetails = true;

// backend kafka: rpc/RunSingleJob.php runs only events signed with $wgSecretKey, unless told otherwise.
if ( getenv( 'JOBRUNNER_FARM_UNSIGNED_EVENTS' ) === '1' ) {
	$wgRunSingleJobAllowUnsigned = true;
}
if ( getenv( 'JOBRUNNER_FARM_EVENT_SOURCES' ) ) {
	$wgRunSingleJobAllowedSources = explode( ',', getenv( 'JOBRUNNER_FARM_EVENT_SOURCES' ) );
}

// Jobs run only when a runner asks for them.
$wgJobRunRate = 0;
$wgRunJobsAsync = false;

$mwfarmMemcached = getenv( 'JOBRUNNER_FARM_MEMCACHED' );
if ( $mwfarmMemcached ) {
	$wgMainCacheType = CACHE_MEMCACHED;
	$wgMemCachedServers = [ $mwfarmMemcached ];
} else {
	// Message, parser and session caches stay on CACHE_ANYTHING, i.e. the installer's SQLite cache.
	$wgMainCacheType = CACHE_NONE;
}

$mwfarmQueue = getenv( 'JOBRUNNER_FARM_QUEUE' ) ?: 'redis';
if ( $mwfarmQueue === 'redis' ) {
	$mwfarmRedis = getenv( 'JOBRUNNER_FARM_REDIS' );
	$mwfarmPartitions = array_values( array_filter( explode( ',', (string)getenv( 'JOBRUNNER_FARM_REDIS_PARTITIONS' ) ) ) );
	if ( $mwfarmPartitions ) {
		// As $wgJobTypeConf per wiki does in production: the farm's wikis spread over the partitions.
		$mwfarmIndex = (int)array_search( $mwfarmWiki, $mwfarmWikis, true );
		$mwfarmRedis = $mwfarmPartitions[$mwfarmIndex % count( $mwfarmPartitions )];
	}
	if ( !$mwfarmRedis ) {
		mwfarmFail( 'env JOBRUNNER_FARM_REDIS (host:port of the job queue Redis) is not set', 500 );
	}
	$mwfarmRedisConfig = [ 'connectTimeout' => 2, 'readTimeout' => 5, 'persistent' => false ];
	if ( getenv( 'JOBRUNNER_FARM_REDIS_PASSWORD' ) !== false ) {
		$mwfarmRedisConfig['password'] = getenv( 'JOBRUNNER_FARM_REDIS_PASSWORD' );
	}
	$wgJobTypeConf['default'] = [
		'class' => 'JobQueueRedis',
		'redisServer' => $mwfarmRedis,
		'redisConfig' => $mwfarmRedisConfig,
		'daemonized' => true,
	];
	if ( getenv( 'JOBRUNNER_FARM_GZIP' ) === '1' ) {
		$wgJobTypeConf['default']['compression'] = 'gzip';
	}
} elseif ( $mwfarmQueue === 'eventbus' ) {
	// backend kafka end to end (issue 16): EventBus's JobQueueEventBus sends every job as a
	// mediawiki/job event to the event service (JOBRUNNER_FARM_EVENT_SERVICE, set below).
	$wgJobTypeConf['default'] = [
		'class' => 'MediaWiki\\Extension\\EventBus\\Adapters\\JobQueue\\JobQueueEventBus',
		'readOnlyReason' => false,
	];
} elseif ( $mwfarmQueue !== 'db' ) {
	// 'db' keeps the installer's JobQueueDB configuration.
	mwfarmFail( "env JOBRUNNER_FARM_QUEUE must be 'redis', 'db' or 'eventbus', not '$mwfarmQueue'", 500 );
}

// EventBus REL1_39, unmodified (issue 16): JOBRUNNER_FARM_EVENTBUS = its directory. Only job events
// are sent; its REST executor /eventbus/v0/internal/job/execute is on and checks signatures.
$mwfarmEventBus = getenv( 'JOBRUNNER_FARM_EVENTBUS' );
if ( $mwfarmEventBus ) {
	wfLoadExtension( 'EventBus', "$mwfarmEventBus/extension.json" );
	$wgEnableEventBus = 'TYPE_JOB';
	$wgEventBusEnableRunJobAPI = true;
	$mwfarmEventService = getenv( 'JOBRUNNER_FARM_EVENT_SERVICE' );
	if ( $mwfarmEventService ) {
		$wgEventServices = [ 'intake' => [ 'url' => $mwfarmEventService, 'timeout' => 10 ] ];
		$wgEventServiceDefault = 'intake';
	}
} elseif ( $mwfarmQueue === 'eventbus' ) {
	mwfarmFail( 'JOBRUNNER_FARM_QUEUE=eventbus needs env JOBRUNNER_FARM_EVENTBUS (the EventBus extension dir)', 500 );
}

// Test job types. Extra names come from job-types.json, read on every start so tests can add
// types (with spaces, quotes, slashes, non-ASCII...) without touching this file.
$wgAutoloadClasses['MwlabJob'] = "$mwfarmDir/farm/MwlabJob.php";
$mwfarmJobTypes = [ 'mwlabFail' => 'fail', 'mwlabThrow' => 'throw', 'mwlabSleep' => 'sleep' ];
if ( is_readable( "$mwfarmDir/job-types.json" ) ) {
	$mwfarmExtra = json_decode( (string)file_get_contents( "$mwfarmDir/job-types.json" ), true );
	if ( !is_array( $mwfarmExtra ) ) {
		mwfarmFail( "$mwfarmDir/job-types.json is not a JSON object", 500 );
	}
	foreach ( $mwfarmExtra as $mwfarmType => $mwfarmBehaviour ) {
		if ( !in_array( $mwfarmBehaviour, [ 'null', 'fail', 'throw', 'sleep' ], true ) ) {
			mwfarmFail( "job-types.json: type '$mwfarmType' has unknown behaviour '$mwfarmBehaviour'", 500 );
		}
		$mwfarmJobTypes[(string)$mwfarmType] = $mwfarmBehaviour;
	}
}
foreach ( $mwfarmJobTypes as $mwfarmType => $mwfarmBehaviour ) {
	$wgJobClasses[$mwfarmType] = static function ( $title, $params ) use ( $mwfarmType, $mwfarmBehaviour ) {
		return new MwlabJob( $mwfarmType, $mwfarmBehaviour, $params );
	};
}

@mkdir( "$mwfarmDir/logs", 0777, true );
$wgDebugLogGroups['exception'] = "$mwfarmDir/logs/exception.log";
$wgDebugLogGroups['error'] = "$mwfarmDir/logs/error.log";
if ( getenv( 'JOBRUNNER_FARM_DEBUG_LOG' ) === '1' ) {
	foreach ( [ 'runJobs', 'JobExecutor', 'redis', 'JobQueueRedis', 'JobQueue', 'EventBus', 'RunSingleJobHandler' ] as $mwfarmGroup ) {
		$wgDebugLogGroups[$mwfarmGroup] = "$mwfarmDir/logs/$mwfarmGroup.log";
	}
}
