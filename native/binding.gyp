# Lives in native/, not in the package root: npm treats a package with a root binding.gyp as one
# to compile at install (`node-gyp rebuild`), and on lockfile-driven installs (npm ci) it does so
# even with "gypfile": false (npm/cli#9859). Build with `npm run build` in this repository, or
# `npx native-event-dispatcher build` in a project that installed the package; both run node-gyp
# here and copy the addon to ../build/Release, where node-gyp-build looks first.
# Command expansions run with this directory as their working directory.
{
  "variables": {
    # 1 builds with -fsanitize=address,undefined and -Werror (npm run test:asan).
    "ned_sanitize%": 0,
    # A directory holding a libcurl.so without symbol versions (scripts/prebuild.sh makes it): the
    # prebuilds link against it, so they need only "libcurl.so.4", not Debian's CURL_OPENSSL_4.
    "ned_libcurl_stub%": ""
  },
  "targets": [
    {
      "target_name": "native_event_dispatcher",
      # Every .cc under src/ (subdirectories too): a new source file needs no edit here.
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('../src', { recursive: true }).filter((f) => f.endsWith('.cc')).map((f) => '../src/' + f.split(require('path').sep).join('/')).sort().join(' ')\")"
      ],
      # C++ exceptions on, including std::exception: a failed N-API call or a bad_alloc while
      # copying a request becomes a JS exception instead of terminating the process.
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # An N-API call that fails because its environment is being torn down (a terminated
        # worker) must not become a fatal error inside node-addon-api.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NED_VERSION=\"<!(node -p \"require('../package.json').version\")\""
      ],
      # pkg-config answers for the target: a cross build sets PKG_CONFIG_LIBDIR to the target's
      # .pc files (scripts/prebuild.sh).
      "include_dirs": [
        "<!@(pkg-config --cflags-only-I libcurl | sed -e 's/-I//g')"
      ],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden",
        "-fstack-protector-strong"
      ],
      # Bind now: every libcurl function is looked up when the addon loads, so a libcurl.so.4 that
      # lacks one (another library of that name first on LD_LIBRARY_PATH, or a libcurl older than
      # 7.62) makes require() fail with "undefined symbol", which lib/binding.js catches and answers
      # with the fallback transport. Lazily bound, the process died at the first call instead
      # ("symbol lookup error", exit 127). Every libcurl function the addon calls exists since 7.62.
      "ldflags": ["-Wl,-z,now"],
      "conditions": [
        ["ned_libcurl_stub==''", {
          "libraries": ["<!@(pkg-config --libs libcurl)"]
        }, {
          "libraries": ["-L<(ned_libcurl_stub)", "-lcurl"]
        }],
        ["ned_sanitize==1", {
          "cflags_cc": [
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
            "-g",
            "-Werror"
          ],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
