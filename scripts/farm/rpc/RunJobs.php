<?php
/**
 * jobrunner test farm: a re-creation of WMF's rpc/RunJobs.php batch endpoint (operations/mediawiki-config,
 * 2014-2022) for the HTTP dispatcher. POST only, loopback only; parameters in the query string:
 * wiki, type, maxtime (default 30), maxjobs (default 5000), maxmem (accepted and ignored, as at WMF).
 * Answers with runJobs' JSON result. Rejections are HTTP 200 with a plain-text body, as the original.
 */

if ( !in_array( $_SERVER['REMOTE_ADDR'] ?? '', [ '127.0.0.1', '::1', '0:0:0:0:0:0:0:1' ], true ) ) {
	print "Only loopback requests are allowed.\n";
	exit;
}
if ( ( $_SERVER['REQUEST_METHOD'] ?? '' ) !== 'POST' ) {
	print "Request must use POST.\n";
	exit;
}

define( 'MEDIAWIKI_JOB_RUNNER', 1 );
define( 'MW_ENTRY_POINT', 'rpc' );
$mwfarmIP = getenv( 'MW_INSTALL_PATH' ) ?: '/usr/share/mediawiki';
require "$mwfarmIP/includes/WebStart.php";

use MediaWiki\MediaWikiServices;

error_reporting( E_ERROR );
ini_set( 'display_errors', '1' );
$wgShowExceptionDetails = true;
// Error bodies as raw text rather than HTML.
$wgCommandLineMode = true;

$mwfarmResult = MediaWikiServices::getInstance()->getJobRunner()->run( [
	'type' => isset( $_GET['type'] ) && $_GET['type'] !== '' ? (string)$_GET['type'] : false,
	'maxJobs' => (int)( $_GET['maxjobs'] ?? 5000 ),
	'maxTime' => (int)( $_GET['maxtime'] ?? 30 ),
] );
header( 'Content-Type: application/json' );
print FormatJson::encode( $mwfarmResult, true, FormatJson::ALL_OK );
