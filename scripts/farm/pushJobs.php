<?php
/**
 * jobrunner test farm: pushes test jobs through MediaWiki's own JobQueueGroup.
 *
 *   MW_CONFIG_FILE=<farm>/FarmSettings.php php pushJobs.php --wiki=wiki1 --type=null --count=100
 *
 * Prints {"pushed":N} on stdout.
 */

$mwfarmIP = getenv( 'MW_INSTALL_PATH' ) ?: '/usr/share/mediawiki';
require_once "$mwfarmIP/maintenance/Maintenance.php";

use MediaWiki\MediaWikiServices;

class MwfarmPushJobs extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->addDescription( 'Push test jobs into this wiki\'s job queue' );
		$this->addOption( 'type', 'Job type (default: null)', false, true );
		$this->addOption( 'count', 'Number of jobs (default: 1)', false, true );
		$this->addOption( 'delay', 'Release the jobs this many seconds from now', false, true );
		$this->addOption( 'dedupe', 'Push identical, de-duplicatable jobs (removeDuplicates)' );
		$this->addOption( 'usleep', 'params.usleep (microseconds a null job sleeps)', false, true );
		$this->addOption( 'lives', 'params.lives (a null job re-pushes itself lives-1 times)', false, true );
		$this->addOption( 'batch', 'Jobs per push() call (default: 500)', false, true );
		$this->addOption( 'params', 'JSON object merged into every job\'s params', false, true );
		$this->addOption( 'root', 'Give the jobs root-job parameters (Job::newRootJobParams)' );
		$this->addOption( 'root-key', 'Key for --root (default: mwfarm:<type>)', false, true );
	}

	public function execute() {
		$type = (string)$this->getOption( 'type', 'null' );
		$count = $this->intOption( 'count', 1, 0 );
		$batch = $this->intOption( 'batch', 500, 1 );
		$dedupe = $this->hasOption( 'dedupe' );

		$common = [];
		if ( $this->hasOption( 'params' ) ) {
			$extra = json_decode( (string)$this->getOption( 'params' ), true );
			if ( !is_array( $extra ) ) {
				$this->fatalError( '--params must be a JSON object' );
			}
			$common = $extra;
		}
		if ( $this->hasOption( 'usleep' ) ) {
			$common['usleep'] = $this->intOption( 'usleep', 0, 0 );
		}
		if ( $this->hasOption( 'lives' ) ) {
			$common['lives'] = $this->intOption( 'lives', 1, 1 );
		}
		if ( $this->hasOption( 'delay' ) ) {
			$delay = $this->getOption( 'delay' );
			if ( !is_numeric( $delay ) || $delay < 0 ) {
				$this->fatalError( '--delay must be a number of seconds >= 0' );
			}
			$common['jobReleaseTimestamp'] = time() + (int)ceil( (float)$delay );
		}
		if ( $this->hasOption( 'root' ) ) {
			$common += Job::newRootJobParams( (string)$this->getOption( 'root-key', "mwfarm:$type" ) );
		}

		$group = MediaWikiServices::getInstance()->getJobQueueGroupFactory()->makeJobQueueGroup();
		$pushed = 0;
		while ( $pushed < $count ) {
			$jobs = [];
			for ( $i = $pushed; $i < min( $count, $pushed + $batch ); $i++ ) {
				// A sequence number keeps jobs distinct unless de-duplication is what is being tested.
				$params = $dedupe ? $common : $common + [ 'seq' => $i ];
				$jobs[] = new JobSpecification( $type, $params, [ 'removeDuplicates' => $dedupe ] );
			}
			$group->push( $jobs );
			$pushed += count( $jobs );
		}
		// pushedAt: when the last push returned (UNIX s), for pickup latency measurements.
		$this->output( json_encode( [ 'pushed' => $pushed, 'pushedAt' => microtime( true ) ] ) . "\n" );
	}

	private function intOption( string $name, int $default, int $min ): int {
		$value = $this->getOption( $name, $default );
		if ( !is_numeric( $value ) || (int)$value != $value || (int)$value < $min ) {
			$this->fatalError( "--$name must be an integer >= $min" );
		}
		return (int)$value;
	}
}

$maintClass = MwfarmPushJobs::class;
require_once RUN_MAINTENANCE_IF_MAIN;
