'use strict';
// The one no_proxy matcher (libcurl's CURLOPT_NOPROXY rules), which both transports and doctor use.
const { noProxyMatcher } = require('../lib/transport/no-proxy');

test.each([
  ['', 'example.com', null],
  ['*', 'anything.test', '*'],
  ['example.com', 'example.com', 'example.com'],
  ['example.com', 'www.Example.COM', 'example.com'],
  ['.example.com', 'api.example.com', 'example.com'],
  ['example.com', 'notexample.com', null],
  ['example.com', 'example.com.org', null],
  ['localhost, 127.0.0.1', '127.0.0.1', '127.0.0.1'],
  ['10.0.0.0/8,192.168.0.0/16', '192.168.4.2', '192.168.0.0/16'],
  ['10.0.0.0/8', '11.0.0.1', null],
  ['::1', '[::1]', '::1'],
  ['fd00::/8', '[fd12::3]', 'fd00::/8'],
  ['a.test,*', 'b.test', null], // "*" is a wildcard only alone, as in libcurl
])('no_proxy %j for %s → %j', (list, host, entry) => {
  expect(noProxyMatcher(list)(host)).toBe(entry);
});
