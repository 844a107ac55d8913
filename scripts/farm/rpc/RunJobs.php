<?php
/**
 * jobrunner test farm: a re-creation of WMF's rpc/RunJobs.php batch endpoint (operations/mediawiki-config,
 * 2014-2022) for the HTTP dispatcher. POST only, loopback only; parameters in the query string:
 * wiki, type, maxtime (default 30), maxjobs (default 5000), maxmem (accepted and ignored, as at WMF).
 * Answers with runJobs' JSON result. Rejections are HTTP 200 with a plain-text body, as the original.
 *
 * Unlike the original it does not take a loopback REMOTE_ADDR on trust: a reverse proxy on the same
 * host makes every request it forwards come from loopback, so a request carrying a proxy header
 * (Forwarded, X-Forwarded-*, X-Real-IP, Via) is refused. maxtime and maxjobs must be whole numbers
 * within bounds, so one request cannot hold a worker for days:
 *   maxtime  1 .. $wgRunJobsRpcMaxTime (default 3600) seconds
 *   maxjobs  0 .. $wgRunJobsRpcMaxJobs (default 10000); 0 means that bound
 */

/** Plain-text rejection, HTTP 200 like the original. */
function mwfarmRefuse( string $message ): void {
	header( 'Content-Type: text/plain; charset=utf-8' );
	print "$message\n";
	exit;
}

/** A whole-number query parameter within [$min, $max], or $default when absent. */
function mwfarmIntParam( string $name, int $default, int $min, int $max ): int {
	if ( !isset( $_GET[$name] ) || $_GET[$name] === '' ) {
		return $default;
	}
	$value = $_GET[$name];
	if ( !is_string( $value ) || !preg_match( '/^\d{1,9}$/', $value ) || (int)$value < $min || (int)$value > $max ) {
		mwfarmRefuse( "Parameter $name must be a whole number from $min to $max." );
	}
	return (int)$value;
}

ini_set( 'display_errors', '0' );
if ( !in_array( $_SERVER['REMOTE_ADDR'] ?? '', [ '127.0.0.1', '::1', '0:0:0:0:0:0:0:1' ], true ) ) {
	mwfarmRefuse( 'Only loopback requests are allowed.' );
}
foreach ( [ 'HTTP_FORWARDED', 'HTTP_X_FORWARDED_FOR', 'HTTP_X_FORWARDED_HOST', 'HTTP_X_REAL_IP', 'HTTP_VIA' ] as $mwfarmHeader ) {
	if ( isset( $_SERVER[$mwfarmHeader] ) ) {
		mwfarmRefuse( 'Only loopback requests are allowed (this one came through a proxy).' );
	}
}
if ( ( $_SERVER['REQUEST_METHOD'] ?? '' ) !== 'POST' ) {
	mwfarmRefuse( 'Request must use POST.' );
}

define( 'MEDIAWIKI_JOB_RUNNER', 1 );
define( 'MW_ENTRY_POINT', 'rpc' );
$mwfarmIP = getenv( 'MW_INSTALL_PATH' ) ?: '/usr/share/mediawiki';
require "$mwfarmIP/includes/WebStart.php";

use MediaWiki\MediaWikiServices;

error_reporting( E_ERROR );
// Error bodies as raw text rather than HTML.
$wgCommandLineMode = true;
$wgShowExceptionDetails = false;

$mwfarmMaxJobs = (int)( $GLOBALS['wgRunJobsRpcMaxJobs'] ?? 10000 );
$mwfarmResult = MediaWikiServices::getInstance()->getJobRunner()->run( [
	'type' => isset( $_GET['type'] ) && is_string( $_GET['type'] ) && $_GET['type'] !== '' ? $_GET['type'] : false,
	'maxJobs' => mwfarmIntParam( 'maxjobs', 5000, 0, $mwfarmMaxJobs ) ?: $mwfarmMaxJobs,
	'maxTime' => mwfarmIntParam( 'maxtime', 30, 1, (int)( $GLOBALS['wgRunJobsRpcMaxTime'] ?? 3600 ) ),
] );
header( 'Content-Type: application/json' );
print FormatJson::encode( $mwfarmResult, true, FormatJson::ALL_OK );
