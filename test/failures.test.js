'use strict';
// The one table of DispatchError codes (lib/transport/failures.js) against what else names them.
const fs = require('node:fs');
const path = require('node:path');
const { ERROR_CODES, FAILURES, errorCodes } = require('../lib/transport/failures');
const { addonSetup } = require('../lib/transport/protocol');

// The members of `export type <name> = | 'A' | 'B' ...;` in a typings file.
function unionOf(file, name) {
  const text = fs.readFileSync(path.join(__dirname, '..', 'types', file), 'utf8');
  const match = new RegExp(`export type ${name} =([^;]+);`).exec(text);
  if (match === null) throw new Error(`no type ${name} in ${file}`);
  return [...match[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
}

test("the typings' DispatchErrorCode is the table's codes, in its order", () => {
  expect(unionOf('index.d.ts', 'DispatchErrorCode')).toEqual(ERROR_CODES);
});

test('errorCodes() refuses a code the table lacks', () => {
  expect(errorCodes('ECONNRESET', 'ETIMEDOUT')).toEqual(['ECONNRESET', 'ETIMEDOUT']);
  expect(() => errorCodes('ECONNRESTE')).toThrow('ECONNRESTE is not a DispatchError code');
  expect(Object.keys(FAILURES)).toEqual(ERROR_CODES);
});

const native = require('./helpers/transports').nativeAddon();
const withNative = native && typeof native.setup === 'function' ? test : test.skip;

withNative('the addon refuses a table that lacks a code its classifier gives', () => {
  const setup = addonSetup();
  expect(() =>
    native.setup({ ...setup, errorCodes: ERROR_CODES.filter((code) => code !== 'EPROXY') }),
  ).toThrow('errorCodes lacks EPROXY');
  native.setup(setup);
});
