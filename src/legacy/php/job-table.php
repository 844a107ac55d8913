<?php
/**
 * jobrunner legacy backend: reads and writes MediaWiki JobQueueDB `job` tables over PDO, for
 * jobchron's registry sync and `jobqueue migrate`. Works without MediaWiki (plain PDO), on SQLite
 * (pdo_sqlite) and MySQL/MariaDB (pdo_mysql). Columns, and how values are stored, follow
 * MediaWiki 1.39's JobQueueDB and its SQLite/MySQL table definitions.
 *
 *   php job-table.php        serves requests until stdin closes
 *
 * Protocol: one JSON request per line on stdin, one JSON reply per line on stdout, in order.
 *   request  {"id": N, "op": "...", "db": {"dsn": "...", "user": ..., "password": ..., "prefix": "..."}, ...}
 *   reply    {"id": N, "ok": true, "result": ...}  or  {"id": N, "ok": false, "error": "...", "code": "..."}
 * Binary-safe: job_params travels base64-encoded; other strings that are not valid UTF-8 travel as
 * {"b64": "..."}. The password is never echoed.
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}
error_reporting( E_ALL );
ini_set( 'display_errors', 'stderr' );

const MAP_TABLE = 'jobrunner_migrate';

class JobTableError extends RuntimeException {
	/** @var string */
	public $kind;

	public function __construct( string $kind, string $message ) {
		parent::__construct( $message );
		$this->kind = $kind;
	}
}

/** @var PDO[] */
$connections = [];

function connectionId( array $db ): string {
	return (string)( $db['dsn'] ?? '' ) . "\0" . ( isset( $db['user'] ) ? (string)$db['user'] : '' );
}

/** Drops a cached connection, so the next request connects again (after a server restart). */
function forgetConnection( array $db ): void {
	global $connections;
	unset( $connections[connectionId( $db )] );
}

/** True when the server went away under a cached connection (restart, kill, network). */
function connectionLost( PDOException $e ): bool {
	$driverCode = $e->errorInfo[1] ?? null;
	return in_array( $driverCode, [ 2006, 2013 ], true ) ||
		preg_match( '/server has gone away|Lost connection|Error while (sending|reading)|Broken pipe/i', $e->getMessage() ) === 1;
}

function connection( array $db ): PDO {
	global $connections;
	$dsn = (string)( $db['dsn'] ?? '' );
	$user = isset( $db['user'] ) ? (string)$db['user'] : null;
	$id = connectionId( $db );
	if ( isset( $connections[$id] ) ) {
		return $connections[$id];
	}
	if ( strpos( $dsn, 'sqlite:' ) === 0 ) {
		$file = substr( $dsn, 7 );
		if ( $file !== ':memory:' && !is_file( $file ) ) {
			// PDO would create an empty database; a missing file is a configuration error.
			throw new JobTableError( 'unreachable', "SQLite file $file does not exist" );
		}
		$driver = 'pdo_sqlite';
	} elseif ( strpos( $dsn, 'mysql:' ) === 0 ) {
		$driver = 'pdo_mysql';
	} else {
		throw new JobTableError( 'config', 'DSN must start with sqlite: or mysql:' );
	}
	if ( !extension_loaded( $driver ) ) {
		throw new JobTableError( 'config', "PHP extension $driver is not loaded" );
	}
	try {
		$pdo = new PDO( $dsn, $user, isset( $db['password'] ) ? (string)$db['password'] : null, [
			PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
			PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
			PDO::ATTR_TIMEOUT => 10,
		] );
	} catch ( PDOException $e ) {
		throw new JobTableError( 'unreachable', 'cannot connect: ' . $e->getMessage() );
	}
	if ( $driver === 'pdo_mysql' ) {
		$pdo->exec( "SET NAMES binary" );
	}
	$connections[$id] = $pdo;
	return $pdo;
}

/** Rolls back after a failure; a connection that died keeps the original error the one reported. */
function rollBackQuietly( PDO $pdo ): void {
	try {
		if ( $pdo->inTransaction() ) {
			$pdo->rollBack();
		}
	} catch ( PDOException $ignored ) {
		// the server rolls back a transaction whose connection is gone
	}
}

function table( array $db, string $name ): string {
	$prefix = (string)( $db['prefix'] ?? '' );
	if ( !preg_match( '/^[A-Za-z0-9_]*$/', $prefix ) ) {
		throw new JobTableError( 'config', 'table prefix must match [A-Za-z0-9_]*' );
	}
	return $prefix . $name;
}

function isSqlite( PDO $pdo ): bool {
	return $pdo->getAttribute( PDO::ATTR_DRIVER_NAME ) === 'sqlite';
}

/** A string for JSON: itself when valid UTF-8, else {"b64": ...}. */
function textOut( $value ) {
	if ( $value === null ) {
		return null;
	}
	$value = (string)$value;
	return mb_check_encoding( $value, 'UTF-8' ) ? $value : [ 'b64' => base64_encode( $value ) ];
}

/** The inverse of textOut(). */
function textIn( $value ): string {
	if ( is_array( $value ) && isset( $value['b64'] ) ) {
		$bytes = base64_decode( (string)$value['b64'], true );
		if ( $bytes === false ) {
			throw new JobTableError( 'request', 'bad base64 string' );
		}
		return $bytes;
	}
	if ( !is_string( $value ) ) {
		throw new JobTableError( 'request', 'expected a string' );
	}
	return $value;
}

/** Binds like MediaWiki: strings holding NUL bytes go to SQLite as BLOBs (DatabaseSqlite::addQuotes). */
function bindString( PDOStatement $stmt, string $name, string $value ): void {
	$stmt->bindValue( $name, $value, strpos( $value, "\0" ) !== false ? PDO::PARAM_LOB : PDO::PARAM_STR );
}

function rowOut( array $row ): array {
	return [
		'id' => (int)$row['job_id'],
		'cmd' => textOut( $row['job_cmd'] ),
		'namespace' => (int)$row['job_namespace'],
		'title' => textOut( $row['job_title'] ),
		'timestamp' => textOut( $row['job_timestamp'] ),
		'params' => base64_encode( (string)$row['job_params'] ),
		'random' => (int)$row['job_random'],
		'attempts' => (int)$row['job_attempts'],
		'token' => textOut( $row['job_token'] ),
		'tokenTimestamp' => textOut( $row['job_token_timestamp'] ),
		'sha1' => textOut( $row['job_sha1'] ),
	];
}

const COLUMNS = 'job_id, job_cmd, job_namespace, job_title, job_timestamp, job_params, job_random, '
	. 'job_attempts, job_token, job_token_timestamp, job_sha1';

function opPing( array $req ): array {
	$pdo = connection( $req['db'] );
	$job = table( $req['db'], 'job' );
	try {
		$count = (int)$pdo->query( "SELECT COUNT(*) FROM $job" )->fetchColumn();
	} catch ( PDOException $e ) {
		throw new JobTableError( 'schema', "no usable $job table: " . $e->getMessage() );
	}
	return [ 'driver' => $pdo->getAttribute( PDO::ATTR_DRIVER_NAME ), 'rows' => $count ];
}

/** CASE job_cmd WHEN 'type' THEN value ... ELSE default END, for per-type limits (values are SQL). */
function perTypeCase( PDO $pdo, array $byType, callable $value, $default ): string {
	if ( !$byType ) {
		return $value( $default );
	}
	$sql = 'CASE job_cmd';
	foreach ( $byType as $type => $limits ) {
		$sql .= ' WHEN ' . $pdo->quote( (string)$type ) . ' THEN ' . $value( $limits );
	}
	return $sql . ' ELSE ' . $value( $default ) . ' END';
}

/** TS_MW of a UNIX time. */
function tsMw( int $unix ): string {
	return gmdate( 'YmdHis', $unix );
}

/**
 * Per type: unclaimed rows, claimed rows, abandoned (claimed, attempts used up), recyclable (claimed
 * longer than claimTTL with attempts left: MediaWiki releases them on its next pop), oldest unclaimed.
 * limits: {"default": {"claimTTL": s, "attempts": n}, "types": {type: {claimTTL, attempts}}}.
 */
function opSummary( array $req ): array {
	$pdo = connection( $req['db'] );
	$job = table( $req['db'], 'job' );
	$now = (int)( $req['now'] ?? time() );
	$default = $req['limits']['default'] ?? [ 'claimTTL' => 3600, 'attempts' => 3 ];
	$types = $req['limits']['types'] ?? [];
	$out = [];
	$res = $pdo->query(
		"SELECT job_cmd, COUNT(*) AS total, " .
		"SUM(CASE WHEN job_token = '' THEN 1 ELSE 0 END) AS unclaimed, " .
		"MIN(CASE WHEN job_token = '' THEN job_timestamp END) AS oldest " .
		"FROM $job GROUP BY job_cmd"
	);
	foreach ( $res as $row ) {
		$out[(string)$row['job_cmd']] = [
			'type' => textOut( $row['job_cmd'] ),
			'unclaimed' => (int)$row['unclaimed'],
			'claimed' => (int)$row['total'] - (int)$row['unclaimed'],
			'abandoned' => 0,
			'recyclable' => 0,
			'oldest' => textOut( $row['oldest'] ),
		];
	}
	$attempts = perTypeCase( $pdo, $types, static function ( array $l ) use ( $default ) {
		return (string)(int)( $l['attempts'] ?? $default['attempts'] );
	}, $default );
	// claimTTL 0 = claims never expire (JobQueue's default): the cutoff '' matches no timestamp.
	$cutoff = perTypeCase( $pdo, $types, static function ( array $l ) use ( $pdo, $default, $now ) {
		$ttl = (int)( $l['claimTTL'] ?? $default['claimTTL'] );
		return $pdo->quote( $ttl > 0 ? tsMw( $now - $ttl ) : '' );
	}, $default );
	$res = $pdo->query(
		"SELECT job_cmd, " .
		"SUM(CASE WHEN job_attempts >= ($attempts) THEN 1 ELSE 0 END) AS abandoned, " .
		"SUM(CASE WHEN job_attempts < ($attempts) AND job_token_timestamp < ($cutoff) THEN 1 ELSE 0 END) " .
		"AS recyclable FROM $job WHERE job_token != '' GROUP BY job_cmd"
	);
	foreach ( $res as $row ) {
		$type = (string)$row['job_cmd'];
		if ( isset( $out[$type] ) ) {
			$out[$type]['abandoned'] = (int)$row['abandoned'];
			$out[$type]['recyclable'] = (int)$row['recyclable'];
		}
	}
	return array_values( $out );
}

/** Rows in job_id order after `after`, optionally of one type. */
function opRead( array $req ): array {
	$pdo = connection( $req['db'] );
	$job = table( $req['db'], 'job' );
	$limit = max( 1, min( 10000, (int)( $req['limit'] ?? 1000 ) ) );
	$where = 'job_id > :after';
	if ( isset( $req['type'] ) ) {
		$where .= ' AND job_cmd = :type';
	}
	$stmt = $pdo->prepare( "SELECT " . COLUMNS . " FROM $job WHERE $where ORDER BY job_id LIMIT $limit" );
	$stmt->bindValue( ':after', (int)( $req['after'] ?? 0 ), PDO::PARAM_INT );
	if ( isset( $req['type'] ) ) {
		bindString( $stmt, ':type', textIn( $req['type'] ) );
	}
	$stmt->execute();
	return array_map( 'rowOut', $stmt->fetchAll() );
}

/** Rows by job_id (missing ones are simply absent). */
function opFetch( array $req ): array {
	$pdo = connection( $req['db'] );
	$job = table( $req['db'], 'job' );
	$ids = array_values( array_map( 'intval', $req['ids'] ?? [] ) );
	$out = [];
	foreach ( array_chunk( $ids, 500 ) as $chunk ) {
		$marks = implode( ',', array_fill( 0, count( $chunk ), '?' ) );
		$stmt = $pdo->prepare( "SELECT " . COLUMNS . " FROM $job WHERE job_id IN ($marks)" );
		$stmt->execute( $chunk );
		foreach ( $stmt->fetchAll() as $row ) {
			$out[] = rowOut( $row );
		}
	}
	return $out;
}

function ensureMapTable( PDO $pdo, string $map ): void {
	if ( isSqlite( $pdo ) ) {
		$pdo->exec( "CREATE TABLE IF NOT EXISTS $map (jm_key TEXT PRIMARY KEY NOT NULL, jm_job_id INTEGER NOT NULL)" );
	} else {
		$pdo->exec( "CREATE TABLE IF NOT EXISTS $map (jm_key VARBINARY(64) NOT NULL PRIMARY KEY, " .
			"jm_job_id INT UNSIGNED NOT NULL)" );
	}
}

/** Map-table entries for the given keys: key => job_id. */
function lookupKeys( PDO $pdo, string $map, array $keys ): array {
	$found = [];
	foreach ( array_chunk( array_values( $keys ), 500 ) as $chunk ) {
		$marks = implode( ',', array_fill( 0, count( $chunk ), '?' ) );
		$stmt = $pdo->prepare( "SELECT jm_key, jm_job_id FROM $map WHERE jm_key IN ($marks)" );
		$stmt->execute( $chunk );
		foreach ( $stmt->fetchAll() as $row ) {
			$found[(string)$row['jm_key']] = (int)$row['jm_job_id'];
		}
	}
	return $found;
}

/**
 * Inserts rows in one transaction, each recorded in the map table under its migration key; a key
 * already there is skipped (a resumed migration never inserts a job twice).
 */
function opInsert( array $req ): array {
	$pdo = connection( $req['db'] );
	$job = table( $req['db'], 'job' );
	$map = table( $req['db'], MAP_TABLE );
	ensureMapTable( $pdo, $map );
	$rows = $req['rows'] ?? [];
	$out = [];
	$pdo->beginTransaction();
	try {
		$known = lookupKeys( $pdo, $map, array_map( static function ( $r ) {
			return (string)$r['key'];
		}, $rows ) );
		$insert = $pdo->prepare( "INSERT INTO $job (job_cmd, job_namespace, job_title, job_timestamp, " .
			"job_params, job_random, job_attempts, job_token, job_token_timestamp, job_sha1) VALUES " .
			"(:cmd, :ns, :title, :ts, :params, :random, :attempts, :token, :tokenTs, :sha1)" );
		$record = $pdo->prepare( "INSERT INTO $map (jm_key, jm_job_id) VALUES (:key, :id)" );
		foreach ( $rows as $r ) {
			$key = (string)$r['key'];
			if ( isset( $known[$key] ) ) {
				$out[] = [ 'key' => $key, 'id' => $known[$key], 'inserted' => false ];
				continue;
			}
			$params = base64_decode( (string)$r['params'], true );
			if ( $params === false ) {
				throw new JobTableError( 'request', "row $key: params is not base64" );
			}
			bindString( $insert, ':cmd', textIn( $r['cmd'] ) );
			$insert->bindValue( ':ns', (int)$r['namespace'], PDO::PARAM_INT );
			bindString( $insert, ':title', textIn( $r['title'] ) );
			bindString( $insert, ':ts', textIn( $r['timestamp'] ) );
			bindString( $insert, ':params', $params );
			$insert->bindValue( ':random', (int)$r['random'], PDO::PARAM_INT );
			$insert->bindValue( ':attempts', (int)$r['attempts'], PDO::PARAM_INT );
			bindString( $insert, ':token', textIn( $r['token'] ) );
			if ( $r['tokenTimestamp'] === null ) {
				$insert->bindValue( ':tokenTs', null, PDO::PARAM_NULL );
			} else {
				bindString( $insert, ':tokenTs', textIn( $r['tokenTimestamp'] ) );
			}
			bindString( $insert, ':sha1', textIn( $r['sha1'] ) );
			$insert->execute();
			$id = (int)$pdo->lastInsertId();
			$record->execute( [ ':key' => $key, ':id' => $id ] );
			$known[$key] = $id;
			$out[] = [ 'key' => $key, 'id' => $id, 'inserted' => true ];
		}
		$pdo->commit();
	} catch ( Throwable $e ) {
		rollBackQuietly( $pdo );
		throw $e;
	}
	return $out;
}

/** {"found": {key: job_id}} for keys recorded by earlier inserts (missing keys are absent). */
function opLookup( array $req ): array {
	$pdo = connection( $req['db'] );
	$map = table( $req['db'], MAP_TABLE );
	ensureMapTable( $pdo, $map );
	return [ 'found' => (object)lookupKeys( $pdo, $map, array_map( 'strval', $req['keys'] ?? [] ) ) ];
}

/** {"found": {job_id: key}} for rows a migration inserted (none when the map table does not exist). */
function opKeys( array $req ): array {
	$pdo = connection( $req['db'] );
	$map = table( $req['db'], MAP_TABLE );
	$ids = array_values( array_map( 'intval', $req['ids'] ?? [] ) );
	$found = [];
	try {
		foreach ( array_chunk( $ids, 500 ) as $chunk ) {
			$marks = implode( ',', array_fill( 0, count( $chunk ), '?' ) );
			$stmt = $pdo->prepare( "SELECT jm_key, jm_job_id FROM $map WHERE jm_job_id IN ($marks)" );
			$stmt->execute( $chunk );
			foreach ( $stmt->fetchAll() as $row ) {
				$found[(string)(int)$row['jm_job_id']] = (string)$row['jm_key'];
			}
		}
	} catch ( PDOException $e ) {
		// No map table: nothing was ever migrated into this database.
		return [ 'found' => (object)[] ];
	}
	return [ 'found' => (object)$found ];
}

/**
 * Deletes rows only while they are exactly as the caller last read them (same type, params and
 * claim token); returns the job_ids deleted. A row claimed or changed since is left in place.
 */
function opDelete( array $req ): array {
	$pdo = connection( $req['db'] );
	$job = table( $req['db'], 'job' );
	if ( !isSqlite( $pdo ) ) {
		return deleteLockedBatches( $pdo, $job, $req['items'] ?? [] );
	}
	$stmt = $pdo->prepare( "DELETE FROM $job WHERE job_id = :id AND job_cmd = :cmd AND job_params = :params " .
		"AND job_token = :token" );
	$deleted = [];
	$pdo->beginTransaction();
	try {
		foreach ( $req['items'] ?? [] as $item ) {
			$params = base64_decode( (string)$item['params'], true );
			if ( $params === false ) {
				throw new JobTableError( 'request', 'params is not base64' );
			}
			$stmt->bindValue( ':id', (int)$item['id'], PDO::PARAM_INT );
			bindString( $stmt, ':cmd', textIn( $item['cmd'] ) );
			bindString( $stmt, ':params', $params );
			bindString( $stmt, ':token', textIn( $item['token'] ) );
			$stmt->execute();
			if ( $stmt->rowCount() > 0 ) {
				$deleted[] = (int)$item['id'];
			}
		}
		$pdo->commit();
	} catch ( Throwable $e ) {
		rollBackQuietly( $pdo );
		throw $e;
	}
	return $deleted;
}

/**
 * opDelete on MySQL/MariaDB: per 500 rows one SELECT ... FOR UPDATE (InnoDB row locks: no runner can
 * claim a row between the check and the delete), the comparison in PHP, one DELETE by primary key.
 * One statement per row would be a network round trip per job.
 */
function deleteLockedBatches( PDO $pdo, string $job, array $items ): array {
	$deleted = [];
	$pdo->beginTransaction();
	try {
		foreach ( array_chunk( $items, 500 ) as $chunk ) {
			$want = [];
			foreach ( $chunk as $item ) {
				$params = base64_decode( (string)$item['params'], true );
				if ( $params === false ) {
					throw new JobTableError( 'request', 'params is not base64' );
				}
				$want[(int)$item['id']] = [ textIn( $item['cmd'] ), $params, textIn( $item['token'] ) ];
			}
			$marks = implode( ',', array_fill( 0, count( $want ), '?' ) );
			$select = $pdo->prepare( "SELECT job_id, job_cmd, job_params, job_token FROM $job " .
				"WHERE job_id IN ($marks) FOR UPDATE" );
			$select->execute( array_keys( $want ) );
			$doomed = [];
			foreach ( $select->fetchAll() as $row ) {
				$id = (int)$row['job_id'];
				if ( [ (string)$row['job_cmd'], (string)$row['job_params'], (string)$row['job_token'] ] === $want[$id] ) {
					$doomed[] = $id;
				}
			}
			if ( $doomed ) {
				$marks = implode( ',', array_fill( 0, count( $doomed ), '?' ) );
				$pdo->prepare( "DELETE FROM $job WHERE job_id IN ($marks)" )->execute( $doomed );
				array_push( $deleted, ...$doomed );
			}
		}
		$pdo->commit();
	} catch ( Throwable $e ) {
		rollBackQuietly( $pdo );
		throw $e;
	}
	return $deleted;
}

function handle( array $req ) {
	if ( !isset( $req['db'] ) || !is_array( $req['db'] ) ) {
		throw new JobTableError( 'request', 'missing "db"' );
	}
	switch ( $req['op'] ?? '' ) {
		case 'ping':
			return opPing( $req );
		case 'summary':
			return opSummary( $req );
		case 'read':
			return opRead( $req );
		case 'fetch':
			return opFetch( $req );
		case 'insert':
			return opInsert( $req );
		case 'lookup':
			return opLookup( $req );
		case 'keys':
			return opKeys( $req );
		case 'delete':
			return opDelete( $req );
		default:
			throw new JobTableError( 'request', 'unknown op ' . json_encode( $req['op'] ?? null ) );
	}
}

$flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION;
while ( ( $line = fgets( STDIN ) ) !== false ) {
	$line = trim( $line );
	if ( $line === '' ) {
		continue;
	}
	$req = json_decode( $line, true );
	$id = is_array( $req ) ? ( $req['id'] ?? null ) : null;
	try {
		if ( !is_array( $req ) ) {
			throw new JobTableError( 'request', 'request is not a JSON object' );
		}
		try {
			$result = handle( $req );
		} catch ( PDOException $e ) {
			// The server went away since the last request: every op is safe to run again (reads; inserts
			// are keyed in the map table; deletes are conditional), so reconnect and try once more.
			forgetConnection( $req['db'] ?? [] );
			if ( !connectionLost( $e ) ) {
				throw $e;
			}
			$result = handle( $req );
		}
		$reply = [ 'id' => $id, 'ok' => true, 'result' => $result ];
	} catch ( JobTableError $e ) {
		if ( is_array( $req ) && is_array( $req['db'] ?? null ) ) {
			forgetConnection( $req['db'] );
		}
		$reply = [ 'id' => $id, 'ok' => false, 'code' => $e->kind, 'error' => $e->getMessage() ];
	} catch ( PDOException $e ) {
		if ( is_array( $req ) && is_array( $req['db'] ?? null ) ) {
			forgetConnection( $req['db'] );
		}
		$code = connectionLost( $e ) ? 'unreachable' : 'db';
		$reply = [ 'id' => $id, 'ok' => false, 'code' => $code, 'error' => $e->getMessage() ];
	}
	$json = json_encode( $reply, $flags );
	if ( $json === false ) {
		$json = json_encode( [ 'id' => $id, 'ok' => false, 'code' => 'encode', 'error' => json_last_error_msg() ] );
	}
	fwrite( STDOUT, $json . "\n" );
}
