import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashRing, HashRingError, partitionForJob } from '../../src/mediawiki/hash-ring.js';

const HASH_RING_PHP = '/usr/share/mediawiki/includes/libs/HashRing.php';

/** MediaWiki's own HashRing as the oracle; fails loudly without php or MediaWiki. */
function phpPlacements(weights: Record<string, number>, items: string[], eject: string[]): string[] {
  const code = `require ${JSON.stringify(HASH_RING_PHP)};
    $in = json_decode(file_get_contents("php://stdin"), true);
    $ring = new HashRing($in["weights"]);
    $out = [];
    foreach ($in["items"] as $item) $out[] = implode(",", $ring->getLocations($item, 3)) . "|" . $ring->getLocation($item);
    foreach ($in["eject"] as $loc) $ring->ejectFromLiveRing($loc, 60);
    foreach ($in["items"] as $item) $out[] = $ring->getLiveLocation($item);
    echo json_encode($out);`;
  const result = spawnSync('php', ['-r', code], { input: JSON.stringify({ weights, items, eject }) });
  if (result.error)
    throw new Error(`php CLI is required for this test (Debian package php-cli): ${result.error.message}`);
  if (result.status !== 0)
    throw new Error(`php failed (is MediaWiki at /usr/share/mediawiki?): ${result.stderr}`);
  return JSON.parse(result.stdout.toString()) as string[];
}

describe('HashRing', () => {
  const items = [
    ...Array.from({ length: 300 }, () => randomBytes(20).toString('hex')),
    '',
    'f628445490e657a3bbd1d4d62a6447bcc215899c',
    'ünï',
  ];
  const maps: Array<[Record<string, number>, string[]]> = [
    [{ 'rdb1001:6379': 50, 'rdb1001:6380': 50, 'rdb1001:6381': 50, 'rdb1003:6379': 50 }, ['rdb1001:6380']],
    [{ a: 1, b: 2, c: 3.5, zero: 0 }, ['c', 'a']],
    [Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`p${i}`, 50])), ['p3']],
  ];

  it('places items exactly like MediaWiki, with and without ejected locations', () => {
    for (const [weights, eject] of maps) {
      const expected = phpPlacements(weights, items, eject);
      const ring = new HashRing(weights);
      const got = items.map((item) => `${ring.getLocations(item, 3).join(',')}|${ring.getLocation(item)}`);
      for (const location of eject) ring.ejectFromLiveRing(location, 60);
      got.push(...items.map((item) => ring.getLiveLocation(item)));
      expect(got).toEqual(expected);
    }
  });

  it('expires ejections and refuses an empty live ring', () => {
    let now = 1000;
    const ring = new HashRing({ a: 1, b: 1 }, { now: () => now });
    expect(ring.ejectFromLiveRing('a', 5)).toBe(true);
    expect(ring.getLiveLocation('x')).toBe('b');
    expect(ring.ejectFromLiveRing('b', 5)).toBe(false);
    expect(() => ring.getLiveLocation('x')).toThrow(HashRingError);
    now = 1006;
    expect(['a', 'b']).toContain(ring.getLiveLocation('x'));
    expect(() => new HashRing({ a: 0 })).toThrow(HashRingError);
    expect(() => new HashRing({ a: -1, b: 1 })).toThrow(HashRingError);
  });

  it('places de-duplicatable jobs by their dedup hash and others by weight', () => {
    const ring = new HashRing({ a: 1, b: 1, c: 1 });
    const sha1 = '0jq6bdxa5evogki924xi033iiodmadf';
    expect(partitionForJob(ring, { sha1 })).toBe(
      ring.getLocation('04b0ed185c2d0c26ad1d1c0a759d45b7999b0b03'),
    );
    const seen = new Set(Array.from({ length: 200 }, () => partitionForJob(ring, { sha1: '' })));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
  });
});
