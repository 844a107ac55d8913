import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  PhpArray,
  PhpFloat,
  PhpObject,
  PhpSerializeError,
  PhpUnserializeError,
  normalizeKey,
  phpFloatText,
  phpSerialize,
  phpUnserialize,
  type PhpValue,
} from '../../src/mediawiki/php-serialize.js';
import { comparePhpKeys, phpKsort } from '../../src/mediawiki/php-ksort.js';
import { jsonToPhp, phpToJson } from '../../src/mediawiki/php-json.js';
import { php } from '../support/php-cli.js';

const NULL_JOB =
  'a:8:{s:4:"type";s:4:"null";s:9:"namespace";i:-1;s:5:"title";s:0:"";s:6:"params";a:3:{s:5:"lives";i:1;s:6:"usleep";i:0;s:3:"seq";i:2;}s:10:"rtimestamp";i:0;s:4:"uuid";s:32:"5b0ba2f8111043eda5d5efe3d11f02a6";s:4:"sha1";s:0:"";s:9:"timestamp";i:1795829823;}';
const PAGES_PARAMS =
  'a:4:{s:5:"pages";a:1:{i:202;a:2:{i:0;i:0;i:1;s:10:"BoxPage200";}}s:16:"rootJobSignature";s:40:"f628445490e657a3bbd1d4d62a6447bcc215899c";s:16:"rootJobTimestamp";s:14:"20261128013736";s:18:"triggeredRecursive";b:1;}';

function roundTrip(text: string | Buffer): void {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  expect(phpSerialize(phpUnserialize(bytes)).equals(bytes)).toBe(true);
}

describe('phpUnserialize / phpSerialize', () => {
  it('round-trips the blobs MediaWiki 1.39 writes', () => {
    roundTrip(NULL_JOB);
    roundTrip(PAGES_PARAMS);
    const job = phpUnserialize(Buffer.from(NULL_JOB)) as PhpArray;
    expect(job.get('type')).toBe('null');
    expect(job.get('namespace')).toBe(-1);
    expect([...job.keys()]).toEqual([
      'type',
      'namespace',
      'title',
      'params',
      'rtimestamp',
      'uuid',
      'sha1',
      'timestamp',
    ]);
  });

  it('keeps the integer-keyed pages map as int keys in order', () => {
    const params = phpUnserialize(Buffer.from(PAGES_PARAMS)) as PhpArray;
    const pages = params.get('pages') as PhpArray;
    expect([...pages.keys()]).toEqual([202]);
    expect(pages.get('202')).toBeInstanceOf(PhpArray);
    expect(phpToJson(pages)).toEqual({ '202': [0, 'BoxPage200'] });
  });

  it('counts string lengths in bytes and keeps binary strings as Buffers', () => {
    expect(phpSerialize('é€😀').toString('utf8')).toBe('s:9:"é€😀";');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const encoded = phpSerialize(all);
    expect(encoded.subarray(0, 8).toString('latin1')).toBe('s:256:"\x00');
    const decoded = phpUnserialize(encoded);
    expect(Buffer.isBuffer(decoded) && decoded.equals(all)).toBe(true);
    expect(php('echo serialize(unserialize(file_get_contents("php://stdin")));', encoded).length).toBe(
      encoded.length,
    );
  });

  it('normalizes canonical decimal string keys to int keys like PHP', () => {
    expect(normalizeKey('202')).toBe(202);
    expect(normalizeKey('-5')).toBe(-5);
    expect(normalizeKey('05')).toBe('05');
    expect(normalizeKey('-0')).toBe('-0');
    expect(normalizeKey('9223372036854775807')).toBe(9223372036854775807n);
    expect(normalizeKey('9223372036854775808')).toBe('9223372036854775808');
    const array = PhpArray.from([
      ['202', 1],
      ['-5', 2],
      ['05', 3],
      ['9223372036854775808', 4],
      ['-0', 5],
      ['0', 6],
    ]).push(true);
    array.set('a', null);
    const expected = php(
      'echo serialize(["202"=>1, "-5"=>2, "05"=>3, "9223372036854775808"=>4, "-0"=>5, "0"=>6, true, "a"=>null]);',
    );
    expect(phpSerialize(array).toString()).toBe(expected.toString());
    expect(phpUnserialize(Buffer.from('a:1:{s:3:"202";i:1;}'))).toEqual(PhpArray.from([[202, 1]]));
  });

  it('overwrites duplicate keys in place, like PHP', () => {
    const value = phpUnserialize(Buffer.from('a:3:{i:1;s:1:"a";i:2;s:1:"b";i:1;s:1:"c";}')) as PhpArray;
    expect([...value.entries()]).toEqual([
      [1, 'c'],
      [2, 'b'],
    ]);
  });

  it('distinguishes ints, floats, bools and null', () => {
    const value = PhpArray.list([1, new PhpFloat(1), 1.5, true, false, null, 2n ** 62n, -(2n ** 63n)]);
    const text = phpSerialize(value).toString();
    expect(text).toBe(
      'a:8:{i:0;i:1;i:1;d:1;i:2;d:1.5;i:3;b:1;i:4;b:0;i:5;N;i:6;i:4611686018427387904;i:7;i:-9223372036854775808;}',
    );
    roundTrip(text);
    const back = phpUnserialize(Buffer.from(text)) as PhpArray;
    expect(back.get(1)).toEqual(new PhpFloat(1));
    expect(back.get(6)).toBe(2n ** 62n);
  });

  it('writes floats exactly like PHP 8 serialize (INF, NAN, -0, exponents)', () => {
    const cases: Array<[number, string]> = [
      [0.1, '0.1'],
      [1, '1'],
      [-0, '-0'],
      [1e25, '1.0E+25'],
      [1.5e-7, '1.5E-7'],
      [Infinity, 'INF'],
      [-Infinity, '-INF'],
      [NaN, 'NAN'],
      [1.2345678901234568e17, '1.2345678901234568E+17'],
      [1e15, '1000000000000000'],
      [1e16, '10000000000000000'],
      [1e17, '1.0E+17'],
      [1e-5, '1.0E-5'],
      [0.0001, '0.0001'],
      [5e-324, '5.0E-324'],
      [0.1 + 0.2, '0.30000000000000004'],
    ];
    for (const [value, text] of cases) expect(phpFloatText(value)).toBe(text);
  });

  it('agrees with PHP on 2,000 random doubles, both ways', () => {
    const values: number[] = [];
    const bits = randomBytes(8 * 2000);
    for (let i = 0; i < 2000; i++) values.push(bits.readDoubleBE(i * 8));
    // Mix in "nice" numbers too; random bit patterns are mostly huge or tiny.
    for (let i = 0; i < 200; i++) values[i] = Math.round(values[i] ?? 0) / 1000 || i / 7;
    const hex = values
      .map((v) => {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(v);
        return b.toString('hex');
      })
      .join('\n');
    const out = php(
      'foreach (explode("\\n", trim(file_get_contents("php://stdin"))) as $h) echo serialize(unpack("E", hex2bin($h))[1]), "\\n";',
      hex,
    )
      .toString()
      .trim()
      .split('\n');
    values.forEach((v, i) => {
      expect(phpSerialize(new PhpFloat(v)).toString(), `value #${i}`).toBe(out[i]);
      const back = phpUnserialize(Buffer.from(out[i] ?? '')) as PhpFloat;
      expect(Object.is(back.value, v) || (Number.isNaN(v) && Number.isNaN(back.value))).toBe(true);
    });
  });

  it('reads the float and int spellings PHP accepts', () => {
    expect(phpUnserialize(Buffer.from('d:1.;'))).toEqual(new PhpFloat(1));
    expect(phpUnserialize(Buffer.from('d:-.5e-3;'))).toEqual(new PhpFloat(-0.0005));
    expect(phpUnserialize(Buffer.from('i:+7;'))).toBe(7);
    expect(phpUnserialize(Buffer.from('i:007;'))).toBe(7);
  });

  it('round-trips stdClass objects and a complex value produced by PHP', () => {
    roundTrip('O:8:"stdClass":2:{s:4:"blob";s:3:"a\x00b";s:3:"enc";s:4:"gzip";}');
    const obj = phpUnserialize(Buffer.from('O:8:"stdClass":1:{s:1:"x";i:1;}'));
    expect(obj).toBeInstanceOf(PhpObject);
    const produced = php(
      'echo serialize(["a"=>[1,2,["x"=>null]], 7=>1.5, "k"=>(object)["p"=>true,"q"=>"ü"], -3=>false, "bin"=>"\\xff\\xfe", "e"=>[]]);',
    );
    roundTrip(produced);
  });

  it('serializes object properties with string names', () => {
    const obj = new PhpObject('stdClass', PhpArray.from([[5, 1]]));
    expect(phpSerialize(obj).toString()).toBe('O:8:"stdClass":1:{s:1:"5";i:1;}');
  });
});

describe('phpUnserialize on bad input', () => {
  function failure(input: string | Buffer): PhpUnserializeError {
    try {
      phpUnserialize(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1'));
    } catch (error) {
      expect(error).toBeInstanceOf(PhpUnserializeError);
      return error as PhpUnserializeError;
    }
    throw new Error(`expected ${String(input)} to fail`);
  }

  it('names the byte offset and what was expected', () => {
    const e = failure('a:1:{s:1:"x";i:1;');
    expect(e.offset).toBe(17);
    expect(e.expected).toContain("'}'");
    expect(failure('s:1:"ab";').expected).toContain('closing string');
    expect(failure('b:2;').expected).toContain('boolean');
    expect(failure('a:0:{}x').expected).toContain('end of input');
    expect(failure('').expected).toContain('end of input');
    expect(failure('r:1;').expected).toContain('supported type tag');
    expect(failure('i:9223372036854775808;').expected).toContain('int64');
    expect(failure('a:1:{d:1.5;i:1;}').expected).toContain('key');
    expect(failure('d:+INF;').expected).toBe('float');
  });

  it('fails on every truncation of a real blob', () => {
    const blob = Buffer.from(NULL_JOB);
    for (let n = 0; n < blob.length; n++) failure(blob.subarray(0, n));
  });

  it('rejects oversized lengths and counts without allocating', () => {
    expect(failure('s:999999999:"a";').expected).toContain('too large');
    expect(failure('s:99999999999999999999999:"a";').expected).toContain('length');
    expect(failure('a:999999999:{i:0;N;}').expected).toContain('too large');
    expect(failure('a:5:{i:0;N;}').expected).toContain('5 elements');
    expect(failure('O:999:"stdClass":0:{}').expected).toContain('too large');
  });

  it('bounds nesting depth', () => {
    const bomb = 'a:1:{i:0;'.repeat(100_000) + 'N;' + '}'.repeat(100_000);
    expect(failure(bomb).expected).toContain('nesting depth');
    const ok = 'a:1:{i:0;'.repeat(200) + 'N;' + '}'.repeat(200);
    expect(phpUnserialize(Buffer.from(ok))).toBeInstanceOf(PhpArray);
  });

  it('throws nothing but PhpUnserializeError on random garbage', () => {
    const alphabet = Buffer.from('aOsidbN:;{}"0123456789-.E');
    for (let i = 0; i < 5000; i++) {
      const input = randomBytes(1 + (i % 40));
      if (i % 2 === 0)
        for (let j = 0; j < input.length; j++) input[j] = alphabet[(input[j] ?? 0) % alphabet.length] ?? 0;
      try {
        phpUnserialize(input);
      } catch (error) {
        expect(error).toBeInstanceOf(PhpUnserializeError);
      }
    }
  });

  it('refuses JS values PHP cannot hold', () => {
    expect(() => phpSerialize('\ud800')).toThrow(PhpSerializeError);
    expect(() => new PhpArray().set(1.5, 1)).toThrow(PhpSerializeError);
    expect(() => phpSerialize(2n ** 64n)).toThrow(PhpSerializeError);
  });
});

describe('phpKsort', () => {
  it('matches PHP 8 ksort on mixed int and string keys', () => {
    const keySets: PhpValue[][] = [
      ['table', 'recursive', 'rootJobIsSelf', 'causeAction', 'causeAgent', 'namespace', 'title', 'pages'],
      [10, 'a', 9, 'B', 'b', 1, -1, '_x', 'Z'],
      ['1.5', 2, '10', 'abc', ' 3', '1e1', 'x1', 0, '-0'],
      ['é', 'e', 'f', 'ÿ', 'z', '😀', '\uffff'],
    ];
    for (const keys of keySets) {
      const array = PhpArray.from(keys.map((k, i) => [k as string | number, i]));
      const input = phpSerialize(array);
      const expected = php(
        '$a = unserialize(file_get_contents("php://stdin")); ksort($a); echo serialize($a);',
        input,
      );
      expect(phpSerialize(phpKsort(array)).equals(expected)).toBe(true);
    }
  });

  it('compares like PHP 8 for numeric strings', () => {
    expect(comparePhpKeys('10', '9')).toBe(1);
    expect(comparePhpKeys(10, 'a')).toBe(-1);
    expect(comparePhpKeys(10, '1e1')).toBe(0);
    expect(comparePhpKeys('abc', 'abd')).toBe(-1);
  });
});

describe('JSON views', () => {
  it('converts both ways', () => {
    const value = jsonToPhp({ a: 1, b: 1.5, c: [true, null], '7': 'x' }) as PhpArray;
    expect(value.get(7)).toBe('x');
    expect(value.get('b')).toEqual(new PhpFloat(1.5));
    expect(phpToJson(value)).toEqual({ '7': 'x', a: 1, b: 1.5, c: [true, null] });
    expect(phpToJson(Buffer.from([0xff]))).toEqual({ $binary: '/w==' });
    expect(phpToJson(new PhpFloat(Infinity))).toBe('INF');
    expect(phpToJson(2n ** 60n)).toBe('1152921504606846976');
  });
});
