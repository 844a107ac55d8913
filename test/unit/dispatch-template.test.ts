import { describe, expect, it } from 'vitest';
import { buildCommand, displayArg } from '../../src/runner/dispatch/command-line.js';
import {
  DispatchConfigError,
  checkUrlTemplate,
  placeholderValues,
  renderUrlTemplate,
  type PlaceholderValues,
} from '../../src/runner/dispatch/placeholders.js';
import { parseCommandTemplate } from '../../src/runner/dispatch/shell-words.js';
import { urlTemplateOf } from '../../src/runner/dispatch/http-dispatcher.js';

const VALUES: PlaceholderValues = {
  db: 'enwiki',
  type: 'refreshLinks',
  maxtime: '60',
  maxmem: '300M',
  maxjobs: '0',
};
const NASTY = `a;b$(touch /tmp/pwned)'"\n\`id\` *  ~x &&|>`;

const SAMPLE_CLI =
  'nice -19 php /srv/mediawiki/multiversion/MWScript.php runJobs.php --wiki=%(db)x --type=%(type)x ' +
  '--maxtime=%(maxtime)x --memory-limit=%(maxmem)x --result=json';

describe('parseCommandTemplate / buildCommand', () => {
  it('runs the original sample CLI template without a shell, values as plain argv', () => {
    const parsed = parseCommandTemplate(SAMPLE_CLI);
    expect(parsed.shellReason).toBeNull();
    const spec = buildCommand(parsed, VALUES);
    expect(spec.viaShell).toBe(false);
    expect(spec.file).toBe('nice');
    expect(spec.args).toEqual([
      '-19',
      'php',
      '/srv/mediawiki/multiversion/MWScript.php',
      'runJobs.php',
      '--wiki=enwiki',
      '--type=refreshLinks',
      '--maxtime=60',
      '--memory-limit=300M',
      '--result=json',
    ]);
  });

  it('passes hostile values through as single argv elements', () => {
    const spec = buildCommand(parseCommandTemplate('php runJobs.php --wiki=%(db)x --type=%(type)x'), {
      ...VALUES,
      type: NASTY,
    });
    expect(spec.viaShell).toBe(false);
    expect(spec.args).toEqual(['runJobs.php', '--wiki=enwiki', `--type=${NASTY}`]);
    expect(spec.display).toContain(`'--type=a;b$(touch /tmp/pwned)'\\''"`);
  });

  it('removes quotes and backslashes like sh, including placeholders inside quoted words', () => {
    const parsed = parseCommandTemplate(`cmd 'a b' "c \\"d\\" \\$e" f\\ g '' "x%(db)xy" 'p%(type)uq' h\\\nk`);
    expect(parsed.shellReason).toBeNull();
    const spec = buildCommand(parsed, { ...VALUES, type: 'a b/c' });
    expect(spec.args).toEqual(['a b', 'c "d" $e', 'f g', '', 'xenwikiy', 'pa%20b%2Fcq', 'hk']);
  });

  it('turns leading NAME=value words into environment variables', () => {
    const parsed = parseCommandTemplate('MW_CONFIG_FILE=/etc/mw/%(db)x.php LANG="C" php run.php --x=1');
    const spec = buildCommand(parsed, VALUES);
    expect(spec.env).toEqual({ MW_CONFIG_FILE: '/etc/mw/enwiki.php', LANG: 'C' });
    expect(spec.file).toBe('php');
    expect(spec.args).toEqual(['run.php', '--x=1']);
    // Not assignments: a quoted name, or after the command word.
    expect(buildCommand(parseCommandTemplate('"A"=1 cmd B=2'), VALUES).file).toBe('A=1');
    expect(buildCommand(parseCommandTemplate('cmd B=2'), VALUES).args).toEqual(['B=2']);
  });

  it.each([
    ['php a.php | tee log', "shell operator '|'"],
    ['php a.php > out', "shell operator '>'"],
    ['php a.php 2>&1', "shell operator '>'"],
    ['php a.php; echo', "shell operator ';'"],
    ['php a.php && echo', "shell operator '&'"],
    ['php $IP/a.php', "shell operator '$'"],
    ['php "$IP/a.php"', "'$' expansion inside double quotes"],
    ['php `pwd`/a.php', "shell operator '`'"],
    ['php /srv/*.php', "glob character '*'"],
    ['php a?.php', "glob character '?'"],
    ['php ~/a.php', 'tilde expansion'],
    ['php a.php # comment', 'a comment'],
    ['php a.php\nphp b.php', 'a newline (command separator)'],
    ['exec php a.php', "shell builtin 'exec'"],
    ['cd /srv', "shell builtin 'cd'"],
  ])('needs a shell for %j', (template, reason) => {
    expect(parseCommandTemplate(template).shellReason).toBe(reason);
  });

  it('does not need a shell for operators inside quotes', () => {
    expect(parseCommandTemplate(`php a.php '--x=a|b;c>d$e*'`).shellReason).toBeNull();
    expect(parseCommandTemplate(`php a.php "--x=a|b;c>d*"`).shellReason).toBeNull();
    expect(parseCommandTemplate('php a.php --x=a\\|b').shellReason).toBeNull();
  });

  it('renders the shell form with values only in environment variables, quoted for each context', () => {
    const parsed = parseCommandTemplate(
      `nice php a.php --wiki=%(db)x --type=%(type)x "--d=%(type)x" '--s=%(type)x' --u=%(type)u | cat`,
    );
    const spec = buildCommand(parsed, { ...VALUES, type: "it's" });
    expect(spec.viaShell).toBe(true);
    expect(spec.file).toBe('/bin/sh');
    expect(spec.args[0]).toBe('-c');
    expect(spec.args[1]).toBe(
      'nice php a.php --wiki="${JR_DB}" --type="${JR_TYPE}" "--d=${JR_TYPE}" ' +
        `'--s='"\${JR_TYPE}"'' --u="\${JR_TYPE_URLENCODED}" | cat`,
    );
    expect(spec.env).toEqual({ JR_DB: 'enwiki', JR_TYPE: "it's", JR_TYPE_URLENCODED: 'it%27s' });
    expect(spec.display).toBe(
      `JR_DB=enwiki JR_TYPE='it'\\''s' JR_TYPE_URLENCODED=it%27s /bin/sh -c ` +
        `'nice php a.php --wiki="\${JR_DB}" --type="\${JR_TYPE}" "--d=\${JR_TYPE}" '\\''--s='\\''"\${JR_TYPE}"'\\'''\\'' --u="\${JR_TYPE_URLENCODED}" | cat'`,
    );
  });

  it('gives a `$(` inside double quotes its own unquoted context', () => {
    const parsed = parseCommandTemplate(`echo "$(printf '%s' %(db)x) and %(type)x"`);
    expect(parsed.pieces.filter((p) => 'context' in p).map((p) => 'context' in p && p.context)).toEqual([
      'none',
      'double',
    ]);
    expect(() => parseCommandTemplate('echo "$(printf x"')).toThrow(/unterminated/);
  });

  it('treats an unquoted here-document body as double-quoted and refuses placeholders in a quoted one', () => {
    const contexts = (template: string) =>
      parseCommandTemplate(template)
        .pieces.filter((p) => 'context' in p)
        .map((p) => 'context' in p && p.context);
    expect(contexts('cat <<-END\n\t[%(db)x]\n\tEND\necho %(type)x')).toEqual(['double', 'none']);
    expect(contexts('cat <<A <<B\n%(db)x\nA\n%(type)x\nB\n')).toEqual(['double', 'double']);
    expect(() => parseCommandTemplate("cat <<'EOF'\n%(db)x\nEOF")).toThrow(/quoted delimiter/);
    expect(() => parseCommandTemplate('cat <<\\EOF\n%(db)x\nEOF')).toThrow(/quoted delimiter/);
  });

  it('rejects unknown placeholders, unterminated quotes and empty templates', () => {
    expect(() => parseCommandTemplate('php %(wiki)x')).toThrow(DispatchConfigError);
    expect(() => parseCommandTemplate('php %(wiki)x')).toThrow(/unknown placeholder %\(wiki\)x/);
    expect(() => parseCommandTemplate('php %(db)s')).toThrow(/unknown placeholder %\(db\)s/);
    expect(() => parseCommandTemplate("php 'abc")).toThrow(/unterminated single quote/);
    expect(() => parseCommandTemplate('php "abc')).toThrow(/unterminated double quote/);
    expect(() => parseCommandTemplate('   ')).toThrow(/no command/);
    expect(() => parseCommandTemplate('A=1 B=2')).toThrow(/no command/);
    // A percent sign that is not a placeholder is just text.
    expect(buildCommand(parseCommandTemplate('echo 100% %d'), VALUES).args).toEqual(['100%', '%d']);
  });

  it('displays argv with quoting only where needed', () => {
    expect(displayArg('--wiki=enwiki')).toBe('--wiki=enwiki');
    expect(displayArg('a b')).toBe("'a b'");
    expect(displayArg('')).toBe("''");
  });
});

describe('placeholder values and URL templates', () => {
  it('maps a request onto the original placeholders (db = wiki ID)', () => {
    expect(
      placeholderValues({
        wiki: 'wikidb',
        domain: 'wikidb-mediawiki-',
        type: 'null',
        maxTime: 30,
        maxMem: '300M',
        realLimitSeconds: 120,
        maxJobs: 0,
      }),
    ).toEqual({ db: 'wikidb', type: 'null', maxtime: '30', maxmem: '300M', maxjobs: '0' });
  });

  it('rawurlencodes URL placeholders (RFC 3986, like PHP)', () => {
    const url = renderUrlTemplate(
      'http://127.0.0.1:9005/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u',
      { db: 'en wiki', type: "a/b&c=d?e#f~g!'()*ü", maxtime: '60', maxmem: '300M', maxjobs: '0' },
      'test',
    );
    expect(url).toBe(
      'http://127.0.0.1:9005/rpc/RunJobs.php?wiki=en%20wiki&type=a%2Fb%26c%3Dd%3Fe%23f~g%21%27%28%29%2A%C3%BC&maxtime=60&maxmem=300M',
    );
  });

  it('refuses shell-quoted placeholders and non-http URLs', () => {
    expect(() => renderUrlTemplate('http://h/?w=%(db)x', VALUES, 'dispatch.template')).toThrow(
      /%\(db\)x is shell quoting.*use %\(db\)u/,
    );
    expect(() => checkUrlTemplate('ftp://h/x', 'dispatch.template')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => checkUrlTemplate('http://', 'dispatch.template')).toThrow(/not a valid URL/);
  });

  it('takes the URL out of the original curl dispatcher form', () => {
    const original =
      "curl -XPOST -s -a 'http:\\/\\/127.0.0.1:9005\\/rpc\\/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u'";
    const { url, ignoredCurlArgs } = urlTemplateOf(original);
    expect(url).toBe(
      'http://127.0.0.1:9005/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u',
    );
    expect(ignoredCurlArgs).toEqual(['-XPOST', '-s', '-a']);
    expect(urlTemplateOf("curl -XPOST -s -a 'http://h:1/x?w=%(db)u'").url).toBe('http://h:1/x?w=%(db)u');
    expect(urlTemplateOf(' http://h/x ').url).toBe('http://h/x');
    expect(() => urlTemplateOf('wget http://h/')).toThrow(/needs a URL or a curl command/);
    expect(() => urlTemplateOf("curl -s 'http://a/' 'http://b/'")).toThrow(
      /exactly one http\(s\) URL, found 2/,
    );
    expect(() => urlTemplateOf("curl -s 'http://a/' | cat")).toThrow(/shell operator/);
  });
});
