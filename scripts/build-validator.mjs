// Build step: compiles src/config/jobrunner.schema.json with Ajv once and writes the validator as
// plain code to dist/config/jobrunner.validator.cjs, so the daemons and the CLI skip Ajv's schema
// compilation (100–250 ms) on every start. Same options as at run time (src/config/ajv-options.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { AJV_OPTIONS } = await import(join(root, 'dist/config/ajv-options.js'));
const schema = JSON.parse(readFileSync(join(root, 'src/config/jobrunner.schema.json'), 'utf8'));
const ajv = new Ajv2020({ ...AJV_OPTIONS, code: { source: true } });
const generate = standaloneCode.default ?? standaloneCode;
const code = generate(ajv, ajv.compile(schema));
writeFileSync(join(root, 'dist/config/jobrunner.validator.cjs'), code);
