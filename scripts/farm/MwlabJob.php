<?php
/**
 * jobrunner test farm: one job class with a configurable behaviour, registered under several type
 * names by FarmSettings.php (mwlabFail, mwlabThrow, mwlabSleep and the names in job-types.json).
 *
 *   null   succeeds (honours params['usleep'] like NullJob)
 *   fail   run() returns false: retryable failure, the job stays claimed
 *   throw  run() throws a RuntimeException
 *   sleep  sleeps params['seconds'] (float) in short slices, so SIGTERM ends it promptly, then succeeds
 *
 * With params['ledger'] = NAME ([a-z0-9-], at most 40) a job that succeeds appends one line
 * "<wiki> <batch> <seq> <host> <unix time>" to <farm>/logs/ledger-NAME.log, so a test can prove
 * each job ran at least / exactly once and see where and when (the multi-host rehearsal); a sleep
 * job also appends the same line to ledger-NAME-started.log before it sleeps.
 */
class MwlabJob extends Job {
	/** @var string */
	private $behaviour;

	public function __construct( string $command, string $behaviour, array $params ) {
		parent::__construct( $command, $params );
		$this->behaviour = $behaviour;
	}

	public function run() {
		switch ( $this->behaviour ) {
			case 'fail':
				$this->setLastError( "{$this->command}: deliberate failure" );
				return false;
			case 'throw':
				throw new RuntimeException( "{$this->command}: deliberate exception" );
			case 'sleep':
				$this->append( 'started' );
				$this->sleepFor( (float)( $this->params['seconds'] ?? 1 ) );
				return $this->record();
			default:
				if ( isset( $this->params['usleep'] ) && $this->params['usleep'] > 0 ) {
					usleep( (int)$this->params['usleep'] );
				}
				return $this->record();
		}
	}

	private function record(): bool {
		return $this->append( '' );
	}

	/** Appends this job's ledger line to ledger-NAME[-SUFFIX].log; true without a ledger. */
	private function append( string $suffix ): bool {
		$ledger = $this->params['ledger'] ?? null;
		if ( !is_string( $ledger ) || !preg_match( '/^[a-z0-9-]{1,40}$/', $ledger ) ) {
			return true;
		}
		$line = sprintf( "%s %s %s %s %.3f\n", WikiMap::getCurrentWikiId(),
			(string)( $this->params['batch'] ?? '-' ), (string)( $this->params['seq'] ?? '-' ),
			gethostname(), microtime( true ) );
		$file = "{$GLOBALS['mwfarmDir']}/logs/ledger-$ledger" . ( $suffix === '' ? '' : "-$suffix" ) . '.log';
		return file_put_contents( $file, $line, FILE_APPEND | LOCK_EX ) !== false;
	}

	private function sleepFor( float $seconds ): void {
		$until = microtime( true ) + $seconds;
		for ( $left = $seconds; $left > 0; $left = $until - microtime( true ) ) {
			usleep( (int)( min( $left, 0.05 ) * 1e6 ) );
		}
	}
}
