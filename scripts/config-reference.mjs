// Generates the configuration reference in README.md from src/config/jobrunner.schema.json, the
// single source of truth for keys, types, defaults and descriptions.
//   node scripts/config-reference.mjs          rewrite the README section between the markers
//   node scripts/config-reference.mjs --check  exit 1 if the README section is out of date
//   --readme=PATH                              work on another copy of the README (tests)
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const schemaPath = join(root, 'src/config/jobrunner.schema.json');
const readmeArg = process.argv.find((arg) => arg.startsWith('--readme='));
const readmePath = readmeArg ? readmeArg.slice('--readme='.length) : join(root, 'README.md');
const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';

const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));

/** Follows a local "#/$defs/x" reference; keywords next to the $ref win. */
function resolve(node) {
  if (!node || typeof node !== 'object' || !node.$ref) return node;
  const name = node.$ref.replace(/^#\/\$defs\//, '');
  const target = schema.$defs?.[name];
  if (!target) throw new Error(`schema reference ${node.$ref} not found`);
  const rest = { ...node };
  delete rest.$ref;
  return { ...resolve(target), ...rest };
}

function isObjectWithProperties(node) {
  return node && typeof node === 'object' && node.properties !== undefined;
}

function typeText(raw) {
  const node = resolve(raw);
  if (node.enum) return node.enum.map((value) => JSON.stringify(value)).join(' | ');
  const types = Array.isArray(node.type) ? node.type : [node.type];
  return types
    .map((type) => {
      if (type === 'array') return `${typeText(node.items ?? {})}[]`;
      if (type === 'object' && node.additionalProperties && typeof node.additionalProperties === 'object') {
        return `map of ${node.propertyNames?.title ?? 'key'} → ${typeText(node.additionalProperties)}`;
      }
      return type ?? 'any';
    })
    .join(' | ');
}

/** Table-cell text: pipes escaped, one line. */
function cell(text) {
  return String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Description text: a quoted "*" becomes code so Markdown cannot read it as emphasis. */
function prose(text) {
  return String(text).replace(/"\*"/g, '`"*"`');
}

function defaultText(key, raw, parent) {
  if ((parent.required ?? []).includes(key)) return '**required**';
  if (raw.default === undefined) return '—';
  if (isObjectWithProperties(resolve(raw)) && Object.keys(raw.default).length === 0) return 'see below';
  return `\`${JSON.stringify(raw.default)}\``;
}

/** Tables for an object schema and, after it, for every object nested in it. */
function sections(label, objectNode, suffix = '') {
  const node = resolve(objectNode);
  const rows = ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |'];
  const nested = [];
  for (const [key, raw] of Object.entries(node.properties)) {
    const child = resolve(raw);
    let type = typeText(raw);
    const childLabel = label === '' ? key : `${label}.${key}`;
    if (isObjectWithProperties(child)) {
      type = 'object';
      nested.push([childLabel, child]);
    } else if (child.additionalProperties && isObjectWithProperties(resolve(child.additionalProperties))) {
      nested.push([`${childLabel}.<name>`, resolve(child.additionalProperties)]);
    }
    if (child.else && isObjectWithProperties(resolve(child.else))) {
      nested.push([childLabel, resolve(child.else), ' (object form)']);
    }
    rows.push(
      `| \`${key}\` | ${cell(type)} | ${cell(defaultText(key, raw, node))} | ${cell(prose(child.description ?? ''))} |`,
    );
  }
  const title = label === '' ? 'Top level' : `\`${label}\`${suffix}`;
  const intro = label === '' || !node.description ? '' : `${prose(node.description)}\n\n`;
  const own = `### ${title}\n\n${intro}${rows.join('\n')}\n`;
  return [
    own,
    ...nested.flatMap(([childLabel, child, childSuffix]) => sections(childLabel, child, childSuffix)),
  ];
}

function generate() {
  const header = [
    `_Generated from \`src/config/jobrunner.schema.json\` by \`node scripts/config-reference.mjs\`; do not edit by hand._`,
    '',
    `${prose(schema.description)} Files may contain \`//\` and \`/* */\` comments (outside strings) and trailing commas.`,
    'Check a file with `jobrunner --config-file=PATH --check-config`.',
    '',
  ].join('\n');
  return `${header}\n${sections('', schema).join('\n')}`;
}

function replaceSection(readme, body) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md must contain ${START} followed by ${END}`);
  }
  return `${readme.slice(0, start + START.length)}\n${body}${readme.slice(end)}`;
}

const readme = readFileSync(readmePath, 'utf8');
const updated = replaceSection(readme, generate());
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    console.error(
      `${readmePath}: configuration reference is out of date; run: node scripts/config-reference.mjs`,
    );
    process.exit(1);
  }
  console.log('README.md configuration reference is up to date');
} else if (updated !== readme) {
  writeFileSync(readmePath, updated);
  console.log('README.md configuration reference updated');
} else {
  console.log('README.md configuration reference already up to date');
}
