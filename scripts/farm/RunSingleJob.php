<?php
/**
 * jobrunner backend kafka: runs ONE MediaWiki job from a mediawiki/job event (MediaWiki 1.39).
 * The equivalent of WMF's rpc/RunSingleJob.php (operations/mediawiki-config), which change-propagation
 * and jobrunner's Kafka runner POST every job event to. Deploy it as rpc/RunSingleJob.php in the
 * docroot next to MediaWiki's top level, on a vhost only the runners can reach.
 *
 * Request: POST, body = the event JSON exactly as produced (Content-Type: application/json).
 * Wiki: the event's `database` selects the wiki by defining MW_WIKI_NAME (MediaWiki 1.39's wiki-farm
 * convention, what maintenance scripts' --wiki sets); the site's settings must honour it.
 *
 * Responses:
 *   200  done (also a failed job that does not allow retries, as EventBus does); empty body
 *   400  not a JSON object, `database`, `type` or `params` missing, or no such job type
 *   403  $wgRunSingleJobSecretKey is set and mediawiki_signature is missing or wrong
 *   405  not POST (Allow: POST)
 *   422  empty body: "No event received."
 *   500  the job failed (retryable); after a DBReadOnlyError the answer comes 40-45 s late with
 *        X-Readonly: true, so the runner retries later without using up an attempt (T204154)
 *
 * Settings (LocalSettings.php):
 *   $wgRunSingleJobSecretKey  null (default): the signature is not checked (WMF's behaviour; rely on
 *                             network access control). A string, normally $wgSecretKey: the key
 *                             EventBus signed with; mediawiki_signature = hex HMAC-SHA1 of the event
 *                             without the signature, re-encoded with FormatJson::ALL_OK.
 *   $wgRunSingleJobReadOnlySleep  [40, 45]: seconds (random between) before answering X-Readonly.
 */

use MediaWiki\MediaWikiServices;

/** Sends a plain-text answer and stops. */
function mwRunSingleJobRespond( int $status, string $body = '', array $headers = [] ): void {
	http_response_code( $status );
	header( 'Content-Type: text/plain; charset=utf-8' );
	foreach ( $headers as $name => $value ) {
		header( "$name: $value" );
	}
	print $body;
	exit;
}

/** EventBus encodes binary param values as data URIs; the job needs the bytes back. */
function mwRunSingleJobDecodeParams( $value ) {
	$prefix = 'data:application/octet-stream;base64,';
	if ( is_string( $value ) && strncmp( $value, $prefix, strlen( $prefix ) ) === 0 ) {
		$decoded = base64_decode( substr( $value, strlen( $prefix ) ), true );
		return $decoded === false ? $value : $decoded;
	}
	if ( is_array( $value ) ) {
		foreach ( $value as $key => $item ) {
			$value[$key] = mwRunSingleJobDecodeParams( $item );
		}
	}
	return $value;
}

if ( ( $_SERVER['REQUEST_METHOD'] ?? '' ) !== 'POST' ) {
	mwRunSingleJobRespond( 405, "Request must use POST.\n", [ 'Allow' => 'POST' ] );
}
$mwRunSingleJobBody = (string)file_get_contents( 'php://input' );
if ( $mwRunSingleJobBody === '' ) {
	mwRunSingleJobRespond( 422, "No event received.\n" );
}
$mwRunSingleJobEvent = json_decode( $mwRunSingleJobBody, true );
if (
	!is_array( $mwRunSingleJobEvent ) ||
	!isset( $mwRunSingleJobEvent['database'], $mwRunSingleJobEvent['type'] ) ||
	!is_string( $mwRunSingleJobEvent['database'] ) || $mwRunSingleJobEvent['database'] === '' ||
	!is_string( $mwRunSingleJobEvent['type'] ) || $mwRunSingleJobEvent['type'] === '' ||
	!array_key_exists( 'params', $mwRunSingleJobEvent ) || !is_array( $mwRunSingleJobEvent['params'] ) ||
	strpbrk( $mwRunSingleJobEvent['database'], "/\\\0" ) !== false
) {
	mwRunSingleJobRespond( 400, "Invalid event received!\n" );
}

define( 'MEDIAWIKI_JOB_RUNNER', 1 );
define( 'MW_ENTRY_POINT', 'rpc' );
define( 'MW_WIKI_NAME', $mwRunSingleJobEvent['database'] );
require ( getenv( 'MW_INSTALL_PATH' ) ?: dirname( __DIR__ ) ) . '/includes/WebStart.php';

error_reporting( E_ERROR );
$wgShowExceptionDetails = true;

try {
	$mwRunSingleJobKey = $GLOBALS['wgRunSingleJobSecretKey'] ?? null;
	if ( is_string( $mwRunSingleJobKey ) && $mwRunSingleJobKey !== '' ) {
		$mwRunSingleJobSignature = $mwRunSingleJobEvent['mediawiki_signature'] ?? null;
		if ( !is_string( $mwRunSingleJobSignature ) || $mwRunSingleJobSignature === '' ) {
			mwRunSingleJobRespond( 403, "Missing mediawiki signature\n" );
		}
		$mwRunSingleJobUnsigned = $mwRunSingleJobEvent;
		unset( $mwRunSingleJobUnsigned['mediawiki_signature'] );
		$mwRunSingleJobExpected = hash_hmac(
			'sha1',
			FormatJson::encode( $mwRunSingleJobUnsigned, false, FormatJson::ALL_OK ),
			$mwRunSingleJobKey
		);
		if ( !hash_equals( $mwRunSingleJobExpected, $mwRunSingleJobSignature ) ) {
			mwRunSingleJobRespond( 403, "Invalid mediawiki signature\n" );
		}
	}

	$mwRunSingleJobServices = MediaWikiServices::getInstance();
	// Jobs must not wait for replication positions of the web request that queued them.
	$mwRunSingleJobServices->getDBLoadBalancerFactory()->disableChronologyProtection();

	try {
		$mwRunSingleJobJob = Job::factory(
			$mwRunSingleJobEvent['type'],
			mwRunSingleJobDecodeParams( $mwRunSingleJobEvent['params'] )
		);
	} catch ( InvalidArgumentException $e ) {
		mwRunSingleJobRespond( 400, $e->getMessage() . "\n" );
	}

	$mwRunSingleJobResult = $mwRunSingleJobServices->getJobRunner()->executeJob( $mwRunSingleJobJob );
	if ( $mwRunSingleJobResult['status'] || !$mwRunSingleJobJob->allowRetries() ) {
		mwRunSingleJobRespond( 200 );
	}
	$mwRunSingleJobError = (string)( $mwRunSingleJobResult['error'] ?? 'job failed' );
	if ( in_array( Wikimedia\Rdbms\DBReadOnlyError::class, $mwRunSingleJobResult['caught'] ?? [], true ) ) {
		[ $mwRunSingleJobMin, $mwRunSingleJobMax ] = $GLOBALS['wgRunSingleJobReadOnlySleep'] ?? [ 40, 45 ];
		usleep( random_int( (int)( $mwRunSingleJobMin * 1e6 ), (int)( $mwRunSingleJobMax * 1e6 ) ) );
		mwRunSingleJobRespond( 500, "$mwRunSingleJobError\n", [ 'X-Readonly' => 'true' ] );
	}
	mwRunSingleJobRespond( 500, "$mwRunSingleJobError\n" );
} catch ( Throwable $e ) {
	MWExceptionHandler::logException( $e );
	mwRunSingleJobRespond( 500, get_class( $e ) . ': ' . $e->getMessage() . "\n" );
}
