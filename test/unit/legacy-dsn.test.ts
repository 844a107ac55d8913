// How a wiki's job table is named in errors: the DSN with any password masked.
import { describe, expect, it } from 'vitest';
import { jobTableLabel, maskDsn } from '../../src/legacy/dsn.js';

describe('maskDsn', () => {
  it('leaves DSNs without a password as they are', () => {
    expect(maskDsn('mysql:host=db1001;port=3306;dbname=enwiki')).toBe(
      'mysql:host=db1001;port=3306;dbname=enwiki',
    );
    expect(maskDsn('sqlite:/srv/data/password=x/wiki.sqlite')).toBe(
      'sqlite:/srv/data/password=x/wiki.sqlite',
    );
  });

  it('masks password= and pwd= values wherever they stand', () => {
    expect(maskDsn('mysql:host=db;password=s3cr;et;dbname=w')).toBe('mysql:host=db;password=***;et;dbname=w');
    expect(maskDsn('mysql:password=abc;host=db')).toBe('mysql:password=***;host=db');
    expect(maskDsn('mysql:host=db; PWD =abc')).toBe('mysql:host=db; PWD =***');
  });
});

describe('jobTableLabel', () => {
  it('names the wiki, the masked DSN and the account', () => {
    expect(jobTableLabel({ wiki: 'enwiki', dsn: 'mysql:host=db;dbname=enwiki;password=x', user: 'jr' })).toBe(
      'wiki enwiki (mysql:host=db;dbname=enwiki;password=***, user jr)',
    );
    expect(jobTableLabel({ wiki: 'w1', dsn: 'sqlite:/d/w1.sqlite', user: undefined })).toBe(
      'wiki w1 (sqlite:/d/w1.sqlite)',
    );
  });
});
