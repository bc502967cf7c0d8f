'use strict';
// no_proxy, decided here only (both transports and doctor ask this): libcurl's CURLOPT_NOPROXY
// rules. "*" alone matches every host; otherwise a comma-separated list of host names (matching
// the name and its subdomains, a leading dot ignored), IP addresses or CIDR ranges (libcurl 7.86+).
const net = require('node:net');

// (host) -> the entry of `list` that sends `host` direct ('*', a name, an address or a range), or
// null. `host` as a URL has it (an IPv6 address in brackets or not).
function noProxyMatcher(list) {
  const entries = list
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  if (entries.length === 0) return () => null;
  if (entries.length === 1 && entries[0] === '*') return () => '*';
  const names = [];
  const ranges = [];
  for (const raw of entries) {
    const entry = raw.replace(/^\[|\]$/g, '');
    const [address, bits] = entry.split('/');
    const family = net.isIP(address);
    if (family) {
      const range = new net.BlockList();
      const type = family === 6 ? 'ipv6' : 'ipv4';
      if (bits !== undefined && /^\d+$/.test(bits)) range.addSubnet(address, Number(bits), type);
      else range.addAddress(address, type);
      ranges.push({ entry, range });
    } else {
      names.push(entry.replace(/^\./, ''));
    }
  }
  return (host) => {
    const h = host.replace(/^\[|\]$/g, '').toLowerCase();
    const family = net.isIP(h);
    if (family) {
      const type = family === 6 ? 'ipv6' : 'ipv4';
      const hit = ranges.find(({ range }) => range.check(h, type));
      if (hit !== undefined) return hit.entry;
      return names.includes(h) ? h : null;
    }
    return names.find((n) => h === n || h.endsWith(`.${n}`)) || null;
  };
}

module.exports = { noProxyMatcher };
