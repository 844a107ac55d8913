<?php
/**
 * jobrunner backend kafka: runs ONE MediaWiki job from a mediawiki/job event (MediaWiki 1.39).
 * The equivalent of WMF's rpc/RunSingleJob.php (operations/mediawiki-config), which change-propagation
 * and jobrunner's Kafka runner POST every job event to. Deploy it as rpc/RunSingleJob.php in the
 * docroot next to MediaWiki's top level, on a vhost only the runners can reach.
 *
 * Anyone who can POST here can run any job (delete pages, send mail) as any user, so unlike WMF's
 * script it checks the event's mediawiki_signature by default, like EventBus's own endpoint
 * (RunSingleJobHandler): hex HMAC-SHA1, keyed with $wgSecretKey, of the event without the
 * signature, re-encoded with FormatJson::ALL_OK — what EventBus's EventFactory signs.
 *
 * Request: POST, body = the event JSON exactly as produced, Content-Type: application/json.
 * Wiki: the event's `database` selects the wiki by defining MW_WIKI_NAME (MediaWiki 1.39's wiki-farm
 * convention, what maintenance scripts' --wiki sets); the site's settings must honour it.
 *
 * Responses (EventBus's RunSingleJobHandler answers the same codes, except where noted):
 *   200  done (also a failed job that does not allow retries, as EventBus does); empty body
 *        (EventBus: a JSON result)
 *   400  not a JSON object, `database`, `type` or `params` missing, or no such job type
 *   403  "Missing mediawiki signature" / "Invalid mediawiki signature", or the source address is
 *        not in $wgRunSingleJobAllowedSources (EventBus has no source check)
 *   405  not POST (Allow: POST)
 *   415  Content-Type is not application/json
 *   422  empty body: "No event received." (WMF's script; EventBus: 400)
 *   500  the job failed (retryable), body = the job's error; after a DBReadOnlyError the answer
 *        comes 40-45 s late with X-Readonly: true, so the runner retries later without using up an
 *        attempt (T204154; EventBus answers 423 up front for a read-only wiki instead). Any other
 *        error: a fixed text with the request ID; the details go to MediaWiki's exception log only.
 *
 * Settings (LocalSettings.php):
 *   $wgRunSingleJobSecretKey      null (default): the key in the file named by the environment
 *                                 variable JOBRUNNER_EVENT_SECRET_FILE (what Puppet's
 *                                 jobrunner::appserver writes and passes to the php-fpm pool), else
 *                                 $wgSecretKey, the key EventBus signs with. A secret file that is
 *                                 named but unreadable or empty is an error (500), never a fallback.
 *   $wgRunSingleJobAllowUnsigned  false (default). true: events WITHOUT mediawiki_signature run too
 *                                 (WMF's behaviour; then only network access control protects
 *                                 this endpoint). A signature that is present is always checked.
 *   $wgRunSingleJobAllowedSources null (default): any client address. A list of IP addresses and
 *                                 CIDR ranges: other REMOTE_ADDRs get 403. Behind a reverse proxy
 *                                 REMOTE_ADDR is the proxy's, so list the runners at the proxy.
 *   $wgRunSingleJobReadOnlySleep  [40, 45]: seconds (random between) before answering X-Readonly.
 */

use MediaWiki\MediaWikiServices;
use Wikimedia\IPUtils;

// PHP's own error texts (paths, arguments) never reach the client.
ini_set( 'display_errors', '0' );

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

/** The key events are signed with (see "Settings" above). */
function mwRunSingleJobSecretKey(): ?string {
	$key = $GLOBALS['wgRunSingleJobSecretKey'] ?? null;
	if ( is_string( $key ) && $key !== '' ) {
		return $key;
	}
	$file = getenv( 'JOBRUNNER_EVENT_SECRET_FILE' );
	if ( is_string( $file ) && $file !== '' ) {
		$text = is_readable( $file ) ? file_get_contents( $file ) : false;
		$key = $text === false ? '' : trim( $text );
		if ( $key === '' ) {
			// Falling back to another key would let a broken deploy run with an unexpected secret.
			throw new RuntimeException( "JOBRUNNER_EVENT_SECRET_FILE $file is unreadable or empty" );
		}
		return $key;
	}
	$key = $GLOBALS['wgSecretKey'] ?? null;
	return is_string( $key ) ? $key : null;
}

/**
 * Null when the event may run, else the 403 text: the signature is checked whenever present,
 * and required unless $wgRunSingleJobAllowUnsigned.
 */
function mwRunSingleJobSignatureProblem( array $event ): ?string {
	$key = mwRunSingleJobSecretKey();
	if ( !isset( $event['mediawiki_signature'] ) ) {
		return ( $GLOBALS['wgRunSingleJobAllowUnsigned'] ?? false ) === true
			? null
			: 'Missing mediawiki signature';
	}
	$signature = $event['mediawiki_signature'];
	unset( $event['mediawiki_signature'] );
	if ( !is_string( $key ) || $key === '' || !is_string( $signature ) ) {
		return 'Invalid mediawiki signature';
	}
	$expected = hash_hmac( 'sha1', FormatJson::encode( $event, false, FormatJson::ALL_OK ), $key );
	return hash_equals( $expected, $signature ) ? null : 'Invalid mediawiki signature';
}

if ( ( $_SERVER['REQUEST_METHOD'] ?? '' ) !== 'POST' ) {
	mwRunSingleJobRespond( 405, "Request must use POST.\n", [ 'Allow' => 'POST' ] );
}
$mwRunSingleJobType = strtolower( trim( explode( ';', (string)( $_SERVER['CONTENT_TYPE'] ?? '' ) )[0] ) );
if ( $mwRunSingleJobType !== 'application/json' ) {
	mwRunSingleJobRespond( 415, "Unsupported Content-Type\n" );
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
$wgShowExceptionDetails = false;

try {
	$mwRunSingleJobSources = $GLOBALS['wgRunSingleJobAllowedSources'] ?? null;
	if (
		is_array( $mwRunSingleJobSources ) &&
		!IPUtils::isInRanges( (string)( $_SERVER['REMOTE_ADDR'] ?? '' ), $mwRunSingleJobSources )
	) {
		mwRunSingleJobRespond( 403, "Source address not allowed\n" );
	}
	$mwRunSingleJobRefusal = mwRunSingleJobSignatureProblem( $mwRunSingleJobEvent );
	if ( $mwRunSingleJobRefusal !== null ) {
		mwRunSingleJobRespond( 403, "$mwRunSingleJobRefusal\n" );
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
	// The job's own error, for the runner's error topic; the caller is authenticated by now.
	$mwRunSingleJobError = (string)( $mwRunSingleJobResult['error'] ?? 'job failed' );
	if ( in_array( Wikimedia\Rdbms\DBReadOnlyError::class, $mwRunSingleJobResult['caught'] ?? [], true ) ) {
		[ $mwRunSingleJobMin, $mwRunSingleJobMax ] = $GLOBALS['wgRunSingleJobReadOnlySleep'] ?? [ 40, 45 ];
		usleep( random_int( (int)( $mwRunSingleJobMin * 1e6 ), (int)( $mwRunSingleJobMax * 1e6 ) ) );
		mwRunSingleJobRespond( 500, "$mwRunSingleJobError\n", [ 'X-Readonly' => 'true' ] );
	}
	mwRunSingleJobRespond( 500, "$mwRunSingleJobError\n" );
} catch ( Throwable $e ) {
	MWExceptionHandler::logException( $e );
	mwRunSingleJobRespond(
		500,
		'Internal error; see the MediaWiki exception log for request ' . WebRequest::getRequestId() . "\n"
	);
}
