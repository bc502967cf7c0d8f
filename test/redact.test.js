'use strict';
// The one rule for what is a credential and how it is shown (lib/redact.js), which every output
// channel uses; test/trust.secrets.test.js checks the channels themselves.
const { isSecretName, redactText, redactHeaderText, redactHeader } = require('../lib/redact');

test.each([
  ['authorization', true],
  ['Proxy-Authorization', true],
  ['Cookie', true],
  ['set-cookie', true],
  ['x-api-key', true],
  ['X-Auth-Token', true],
  ['x-amz-security-token', true],
  ['private-token', true],
  ['apikey', true],
  ['api_key', true],
  ['access_token', true],
  ['client_secret', true],
  ['password', true],
  ['passwd', true],
  ['sig', true],
  ['signature', true],
  ['sessionid', true],
  ['x-session', true],
  ['content-type', false],
  ['user-agent', false],
  ['accept', false],
  ['keep-alive', false],
  ['x-request-id', false],
  ['visitor_id', false],
  ['x-app', false],
])('%s is a credential name: %s', (name, secret) => {
  expect(isSecretName(name)).toBe(secret);
});

test.each([
  ['https://user:pw@host/x', 'https://user:***@host/x'],
  ['https://token@host/x', 'https://***@host/x'], // a user name alone is often the token
  ['http://host/x?a=1&api_key=s3&token=t#f', 'http://host/x?a=1&api_key=***&token=***#f'],
  ['http://host/x?api%5Fkey=s3', 'http://host/x?api%5Fkey=***'], // an encoded name is decoded first
  ['http://host/x?key=', 'http://host/x?key='], // nothing to hide
  ['user:pw@proxy:3128', 'user:***@proxy:3128'], // a proxy without a scheme, as libcurl takes it
  ['socks5://u:p@h:1080', 'socks5://u:***@h:1080'],
  [
    'see http://a:b@h/ and https://c:d@e/?sig=1',
    'see http://a:***@h/ and https://c:***@e/?sig=***',
  ],
  ['http://host/path', 'http://host/path'],
  ['not a url', 'not a url'],
])('redactText(%j) → %j', (text, shown) => {
  expect(redactText(text)).toBe(shown);
});

test('header blocks: credential values masked, the scheme word kept, line ends kept', () => {
  const block =
    'POST /x?access_token=abc HTTP/1.1\r\nHost: h\r\nAuthorization: Basic dXM6cHc=\r\n' +
    'x-api-key: k\r\nCookie: a=b; c=d\r\nContent-Type: application/json\r\n\r\n';
  expect(redactHeaderText(block)).toBe(
    'POST /x?access_token=*** HTTP/1.1\r\nHost: h\r\nAuthorization: Basic ***\r\n' +
      'x-api-key: ***\r\nCookie: ***\r\nContent-Type: application/json\r\n\r\n',
  );
  expect(redactHeader('Authorization', 'Bearer abc')).toBe('Bearer ***');
  expect(redactHeader('x-app', 'shop')).toBe('shop');
});
