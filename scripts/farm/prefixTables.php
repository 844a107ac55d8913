<?php
/**
 * jobrunner test farm: gives every table of a freshly installed SQLite wiki a table prefix, because
 * MediaWiki's SQLite installer always installs without one. Used by mw-farm.sh for wiki IDs of the
 * form "<db>-<prefix>".
 *
 *   php prefixTables.php <file.sqlite> <prefix>
 */
if ( PHP_SAPI !== 'cli' || $argc !== 3 ) {
	fwrite( STDERR, "usage: php prefixTables.php <file.sqlite> <prefix>\n" );
	exit( 2 );
}
[ , $file, $prefix ] = $argv;
if ( !preg_match( '/^[A-Za-z0-9_]+$/', $prefix ) ) {
	fwrite( STDERR, "prefixTables.php: prefix '$prefix' must match [A-Za-z0-9_]+\n" );
	exit( 2 );
}
$db = new PDO( "sqlite:$file", null, null, [ PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION ] );
// Virtual (FTS) tables rename their shadow tables themselves; sqlite_* tables are internal.
$tables = $db->query(
	"SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
)->fetchAll( PDO::FETCH_ASSOC );
$virtual = [];
foreach ( $tables as $t ) {
	if ( stripos( (string)$t['sql'], 'CREATE VIRTUAL TABLE' ) === 0 ) {
		$virtual[] = $t['name'];
	}
}
$db->beginTransaction();
foreach ( $tables as $t ) {
	$name = $t['name'];
	$shadow = false;
	foreach ( $virtual as $v ) {
		$shadow = $shadow || ( $name !== $v && strpos( $name, "{$v}_" ) === 0 );
	}
	if ( !$shadow && strpos( $name, $prefix ) !== 0 ) {
		$db->exec( "ALTER TABLE \"$name\" RENAME TO \"$prefix$name\"" );
	}
}
$db->commit();
