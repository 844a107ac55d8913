// The one set of Ajv options: used when the validator is compiled at build time
// (scripts/build-validator.mjs) and when it has to be compiled at run time (from src/, in tests).
import type { Options } from 'ajv';

export const AJV_OPTIONS: Options = {
  allErrors: true,
  useDefaults: true,
  strict: true,
  // The top-level if/else ("groups is required unless there is a kafka section") lists keys
  // that are defined in the enclosing properties, which strictRequired cannot see.
  strictRequired: false,
  allowUnionTypes: true,
  // Errors carry parentSchema (known keys for did-you-mean) and the offending data.
  verbose: true,
};
