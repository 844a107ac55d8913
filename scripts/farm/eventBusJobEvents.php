<?php
/**
 * jobrunner test farm (issue 16): the oracle for jobrunner's event builder. Builds jobs of MediaWiki
 * core classes the way MediaWiki code does, turns each into a mediawiki/job event with EventBus's own
 * EventFactory::createJobEvent() and EventBus::serializeEvents() (the extension must be loaded:
 * env JOBRUNNER_FARM_EVENTBUS), and prints one JSON line per job:
 *   {"type", "variant" (job | jobSpecification), "ignoreDuplicates", "ignoreParams",
 *    "params" (base64 of PHP serialize(getParams())), "event" (the exact bytes EventBus sends)}
 *
 *   MW_CONFIG_FILE=<farm>/FarmSettings.php php eventBusJobEvents.php --wiki=wiki1
 */

$mwfarmIP = getenv( 'MW_INSTALL_PATH' ) ?: '/usr/share/mediawiki';
require_once "$mwfarmIP/maintenance/Maintenance.php";

use MediaWiki\Extension\EventBus\EventBus;
use MediaWiki\User\UserIdentityValue;

class MwfarmEventBusJobEvents extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->addDescription( 'Print EventBus job events for jobs of core job classes' );
	}

	/** @return IJobSpecification[] */
	private function jobs(): array {
		$page = Title::makeTitle( NS_MAIN, 'Ünïcode_page/"q"' );
		$template = Title::makeTitle( NS_TEMPLATE, 'Infobox' );
		$user = new UserIdentityValue( 1, 'Admin' );
		$root = Job::newRootJobParams( 'refreshlinks:templatelinks:Template:Infobox' );
		return [
			new RefreshLinksJob( $page, [ 'causeAction' => 'edit-page', 'causeAgent' => 'Admin' ] ),
			// Per-page backlink job: a `pages` map keyed by page ID (number-like keys) and a root job.
			new RefreshLinksJob( $template, [ 'pages' => [ 12 => [ 0, 'Foo' ] ] ] + $root ),
			new RefreshLinksJob( $template, [ 'pages' => [ 12 => [ 0, 'Foo' ], 7 => [ 0, 'Bar' ] ] ] + $root ),
			HTMLCacheUpdateJob::newForBacklinks( $template, 'templatelinks', [ 'causeAction' => 'edit-page' ] ),
			new HTMLCacheUpdateJob( $template, [ 'pages' => [ 31 => [ 0, 'Baz' ] ] ] + $root ),
			CategoryMembershipChangeJob::newSpec( $page, '20300101000000' ),
			RecentChangesUpdateJob::newPurgeJob(),
			RecentChangesUpdateJob::newCacheUpdateJob(),
			new DeleteLinksJob( $page, [ 'pageId' => 42, 'timestamp' => '20300101000000' ] ),
			new ActivityUpdateJob( $page, [
				'type' => 'updateWatchlistNotification', 'userid' => 1,
				'notifTime' => '20300101000000', 'curTime' => '20300101000001',
			] ),
			new CdnPurgeJob( [
				'urls' => [ 'http://wiki1.test/wiki/Foo', 'http://wiki1.test/wiki/B%C3%A4r' ],
				'jobReleaseTimestamp' => 1893456000,
			] ),
			new UserEditCountInitJob( [ 'userId' => 1, 'editCount' => 3 ] ),
			ClearUserWatchlistJob::newForUser( $user, 99 ),
			new ClearWatchlistNotificationsJob( [ 'userId' => 1, 'casTime' => '20300101000000' ] ),
			new ThumbnailRenderJob( Title::makeTitle( NS_FILE, 'Example.png' ), [
				'transformParams' => [ 'width' => 120, 'page' => 1 ],
			] ),
			new UserGroupExpiryJob( [] ),
			new EnotifNotifyJob( $page, [
				'editor' => 'Admin', 'editorID' => 1, 'timestamp' => '20300101000000',
				'summary' => 'sümmary', 'minorEdit' => false, 'oldid' => 5, 'watchers' => [ 2, 3 ],
				'pageStatus' => 'changed',
			] ),
			// Floats (with and without a fraction), an empty list, nested maps, non-ASCII, slashes.
			new NullJob( [
				'removeDuplicates' => true, 'ratio' => 1.0, 'half' => 0.5, 'empty' => [],
				'nested' => [ 'b' => null, 'a' => true, 10 => 'ten' ], 'text' => "ä/\u{1F600}\"<>&'",
			] ),
		];
	}

	public function execute() {
		$domain = WikiMap::getCurrentWikiDbDomain()->getId();
		foreach ( $this->jobs() as $job ) {
			$stream = 'mediawiki.job.' . $job->getType();
			$event = EventBus::getInstanceForStream( $stream )->getFactory()
				->createJobEvent( $stream, $domain, $job );
			$ignoreParams = [];
			if ( $job instanceof JobSpecification ) {
				$opts = ( new ReflectionProperty( JobSpecification::class, 'opts' ) );
				$opts->setAccessible( true );
				$ignoreParams = $opts->getValue( $job )['removeDuplicatesIgnoreParams'] ?? [];
			}
			print json_encode( [
				'type' => $job->getType(),
				'variant' => $job instanceof JobSpecification ? 'jobSpecification' : 'job',
				'ignoreDuplicates' => $job->ignoreDuplicates(),
				'ignoreParams' => $ignoreParams,
				'params' => base64_encode( serialize( $job->getParams() ) ),
				'event' => EventBus::serializeEvents( $event ),
			], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) . "\n";
		}
	}
}

$maintClass = MwfarmEventBusJobEvents::class;
require_once RUN_MAINTENANCE_IF_MAIN;
