// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
// Validates a file against speedscope's own JSON schema (shipped in the
// speedscope npm package) with ajv. Prints {"valid": bool, "errors": [...]}.
//   node tests/js/validate_speedscope.js FILE.json
const fs = require('fs');
const Ajv = require('ajv');

const schema = require('speedscope/dist/release/file-format-schema.json');
const data = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(schema);
const valid = validate(data);
console.log(JSON.stringify({ valid, errors: validate.errors || [] }));
process.exit(valid ? 0 : 1);
