#!/usr/bin/env node
'use strict';
// npx native-event-dispatcher doctor [url] [options]   what this installation runs on
// npx native-event-dispatcher build [node-gyp options] compile the addon here (no prebuild)
const [command, ...rest] = process.argv.slice(2);

const USAGE = `Usage: npx native-event-dispatcher <command>

  doctor [url] [options]   versions, the binary in use, and a test request (doctor --help)
  build [options]          compile the addon for this machine (build --help)
  --version                the package's version
`;

if (command === 'doctor') {
  require('../lib/doctor')
    .doctor(rest)
    .then(
      (code) => {
        process.exitCode = code;
      },
      (err) => {
        process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
        process.exitCode = 1;
      },
    );
} else if (command === '--version') {
  // Loads nothing but package.json: it answers even where the package cannot load.
  process.stdout.write(`${require('../package.json').version}\n`);
} else if (command === 'build') {
  // Does not load the package: it is what makes the package loadable.
  process.exitCode = require('./build').build(rest);
} else {
  process.stderr.write(USAGE);
  process.exitCode = command === undefined || command === '--help' || command === '-h' ? 0 : 2;
}
