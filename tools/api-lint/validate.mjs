// Validates the server's API documents with standard validators and exits 1 on any error.
// OpenAPI 3.1 (@apidevtools/swagger-parser): every $ref resolves and the document matches the OpenAPI 3.1
// JSON Schema; that schema leaves Schema Objects open, so each one is also checked against the JSON Schema
// 2020-12 meta-schema (Ajv), the dialect OpenAPI 3.1 builds on.
// AsyncAPI 3.0 (@asyncapi/parser, the official parser): the AsyncAPI 3.0 JSON Schema, payload schemas and its
// semantic rules; its warnings are printed and do not fail.
// Usage: node validate.mjs [OPENAPI_FILE ASYNCAPI_FILE]   (default: server/src/main/resources/api/*.yaml)
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020.js';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const documents = path.resolve(here, '../../server/src/main/resources/api');
const [openapiFile = path.join(documents, 'openapi.yaml'), asyncapiFile = path.join(documents, 'asyncapi.yaml')] =
  process.argv.slice(2);

// Keys whose values are data, not part of the document's structure: nothing under them is a Schema Object.
const DATA_KEYS = new Set(['example', 'examples', 'default', 'const', 'enum']);

// Every Schema Object the document holds at its top (components.schemas and every `schema` field), with its
// JSON pointer; the meta-schema check covers the schemas nested in them.
function* schemaObjects(node, pointer = '') {
  if (node === null || typeof node !== 'object') {
    return;
  }
  for (const [key, value] of Object.entries(node)) {
    const at = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    if (key === 'schema' || pointer === '/components/schemas') {
      yield [at, value];
    } else if (!DATA_KEYS.has(key)) {
      yield* schemaObjects(value, at);
    }
  }
}

async function validateOpenApi(file) {
  const problems = [];
  try {
    await SwaggerParser.validate(file);
  } catch (error) {
    problems.push(error.message.trimEnd());
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  for (const [pointer, schema] of schemaObjects(await SwaggerParser.parse(file))) {
    if (!ajv.validateSchema(schema)) {
      for (const e of ajv.errors) {
        problems.push(`Schema Object #${pointer}${e.instancePath} ${e.message} (JSON Schema 2020-12)`);
      }
    }
  }
  return problems;
}

async function validateAsyncApi(file) {
  const diagnostics = await new Parser().validate(await readFile(file, 'utf8'), { source: file });
  const problems = [];
  for (const d of diagnostics) {
    const text = `${d.code}: ${d.message} at #/${d.path.join('/')} (line ${d.range.start.line + 1})`;
    if (d.severity === DiagnosticSeverity.Error) {
      problems.push(text);
    } else {
      console.warn(`warning: ${file}: ${text}`);
    }
  }
  return problems;
}

let failed = false;
for (const [file, validate] of [[openapiFile, validateOpenApi], [asyncapiFile, validateAsyncApi]]) {
  const problems = await validate(file);
  failed ||= problems.length > 0;
  for (const problem of problems) {
    console.error(`error: ${file}: ${problem}`);
  }
  if (problems.length === 0) {
    console.log(`valid: ${file}`);
  }
}
process.exitCode = failed ? 1 : 0;
