#!/usr/bin/env node
'use strict';
// npx native-event-dispatcher doctor [url] [options]
const [command, ...rest] = process.argv.slice(2);

if (command !== 'doctor') {
  process.stderr.write('Usage: npx native-event-dispatcher doctor [url] [options]   (doctor --help for the options)\n');
  process.exitCode = command === undefined || command === '--help' || command === '-h' ? 0 : 2;
} else {
  require('../lib/doctor').doctor(rest).then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  });
}
