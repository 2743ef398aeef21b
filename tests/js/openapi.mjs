// The admin API's OpenAPI document, read from a running server and validated as OpenAPI 3.1
// by swagger-parser (the schema of the specification, and every $ref resolving). Prints
// what it found as one JSON line.
//
//   OPENAPI_URL=http://127.0.0.1:4001/admin/v1/openapi.json node openapi.mjs

import SwaggerParser from '@apidevtools/swagger-parser';

import { check, fail, need } from './kit.mjs';

const url = need('OPENAPI_URL');

try {
  const response = await fetch(url);
  check(response.ok, `GET ${url}: ${response.status}`);
  const document = await response.json();
  // validate() dereferences in place: keep the document as served for the counts.
  const api = await SwaggerParser.validate(structuredClone(document));
  const methods = ['get', 'put', 'post', 'delete', 'patch'];
  const operations = Object.values(document.paths).flatMap((item) =>
    methods.filter((m) => item[m]).map((m) => item[m]));
  for (const op of operations) {
    check(op.security?.length > 0, `${op.operationId} names no security requirement`);
    check(op.responses['401'] && op.responses['403'], `${op.operationId} does not document 401 and 403`);
  }
  console.log(JSON.stringify({
    openapi: api.openapi,
    title: api.info.title,
    paths: Object.keys(document.paths).length,
    operations: operations.length,
    token_url: document.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl,
  }));
} catch (e) {
  fail(e.stack ?? String(e));
}
