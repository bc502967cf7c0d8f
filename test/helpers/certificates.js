'use strict';
// A throw-away CA and a server certificate it signed, made with openssl (EC P-256, valid two days):
// for the tests' TLS servers and the bench's collectors. In `dir` (made if missing): ca.pem,
// ca.key, server.key, server.pem.
//   makeCertificates({ dir, names, caName }) -> { dir, caFile, keyFile, certFile, key, cert, remove() }
// `names`: the subjectAltName entries ('DNS:events.test', 'IP:127.0.0.1'); the first is the CN.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function makeCertificates({ dir, names, caName = 'native-event-dispatcher test CA' }) {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name) => path.join(dir, name);
  const run = (args) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const days = ['-days', '2'];
  run(
    ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), ...days].concat([
      '-subj',
      `/CN=${caName}`,
    ]),
  );
  const cn = names[0].slice(names[0].indexOf(':') + 1);
  run([
    'req',
    ...ec,
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
    '-subj',
    `/CN=${cn}`,
  ]);
  fs.writeFileSync(
    file('ext.cnf'),
    `subjectAltName=${names.join(',')}\nbasicConstraints=CA:FALSE\n`,
  );
  run(
    [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
    ].concat(['-CAcreateserial', '-out', file('server.pem'), ...days, '-extfile', file('ext.cnf')]),
  );
  return {
    dir,
    caFile: file('ca.pem'),
    keyFile: file('server.key'),
    certFile: file('server.pem'),
    key: fs.readFileSync(file('server.key')),
    cert: fs.readFileSync(file('server.pem')),
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { makeCertificates };
