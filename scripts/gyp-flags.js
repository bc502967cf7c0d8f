'use strict';
// The compiler flags native/binding.gyp gives the addon's sources, for the tools that compile them
// outside node-gyp (scripts/lint.sh): its -D defines, those of the node-addon-api target it
// depends on, and its -std/-W flags. binding.gyp stays the one place they are written.
// Prints them on one line; defines made by a command expansion (NED_VERSION) are left out.
const fs = require('node:fs');
const path = require('node:path');

// A .gyp/.gypi file: a Python literal, which JS reads once its comments are gone.
function readGyp(file) {
  const text = fs.readFileSync(file, 'utf8').replace(/^\s*#.*$/gm, '');
  return new Function(`return (${text});`)(); // eslint-disable-line no-new-func
}

const nativeDir = path.join(__dirname, '..', 'native');
const [target] = readGyp(path.join(nativeDir, 'binding.gyp')).targets;
const defines = [...target.defines];
for (const dependency of target.dependencies || []) {
  // "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
  const [, name] = /:([\w]+)$/.exec(dependency) || [];
  if (!/node-addon-api/.test(dependency) || name === undefined)
    throw new Error(`gyp-flags: cannot read the dependency ${dependency}`);
  const gyp = path.resolve(require('node-addon-api').targets); // relative to the working directory
  const settings = readGyp(gyp).targets.find(
    (t) => t.target_name === name,
  ).direct_dependent_settings;
  for (const include of settings.includes || [])
    defines.push(...(readGyp(path.join(path.dirname(gyp), include)).defines || []));
  defines.push(...(settings.defines || []));
}
const flags = [
  ...target.cflags_cc.filter((flag) => /^-(std=|W)/.test(flag)),
  ...defines.filter((define) => !define.includes('<!')).map((define) => `-D${define}`),
];
process.stdout.write(`${flags.join(' ')}\n`);
