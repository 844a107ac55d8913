<?php
/**
 * jobrunner test farm: one job class with a configurable behaviour, registered under several type
 * names by FarmSettings.php (mwlabFail, mwlabThrow, mwlabSleep and the names in job-types.json).
 *
 *   null   succeeds (honours params['usleep'] like NullJob)
 *   fail   run() returns false: retryable failure, the job stays claimed
 *   throw  run() throws a RuntimeException
 *   sleep  sleeps params['seconds'] (float) in short slices, so SIGTERM ends it promptly, then succeeds
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
				$this->sleepFor( (float)( $this->params['seconds'] ?? 1 ) );
				return true;
			default:
				if ( isset( $this->params['usleep'] ) && $this->params['usleep'] > 0 ) {
					usleep( (int)$this->params['usleep'] );
				}
				return true;
		}
	}

	private function sleepFor( float $seconds ): void {
		$until = microtime( true ) + $seconds;
		for ( $left = $seconds; $left > 0; $left = $until - microtime( true ) ) {
			usleep( (int)( min( $left, 0.05 ) * 1e6 ) );
		}
	}
}
