'use strict';
// Loads the compiled addon: a prebuild for this platform or the local build (node-gyp-build picks),
// or the file named by NATIVE_EVENT_DISPATCHER_ADDON (the sanitizer test run uses that).
const path = require('node:path');

function load() {
  const override = process.env.NATIVE_EVENT_DISPATCHER_ADDON;
  try {
    const file = override ? path.resolve(override) : require('node-gyp-build').resolve(path.join(__dirname, '..'));
    const native = require(file);
    // Which binary was loaded (a prebuild or a local build): `doctor` reports it.
    Object.defineProperty(native, 'binaryPath', { value: file });
    Object.defineProperty(native, 'kind', { value: 'native' });
    return native;
  } catch (err) {
    if (/libcurl\.so/.test(String(err && err.message))) {
      const e = new Error(
        'native-event-dispatcher needs the system libcurl (libcurl.so.4), which is missing or cannot be loaded. ' +
          'On Debian/Ubuntu: sudo apt-get install libcurl4 (or libcurl4-openssl-dev to build from ' +
          'source). Original error: ' + err.message,
      );
      e.code = 'ERR_LIBCURL_MISSING';
      e.cause = err;
      throw e;
    }
    throw err;
  }
}

module.exports = load();
