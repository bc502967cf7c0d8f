{
  "variables": {
    # 1 builds with -fsanitize=address,undefined and -Werror (npm run test:asan).
    "ned_sanitize%": 0
  },
  "targets": [
    {
      "target_name": "native_event_dispatcher",
      "sources": [
        "src/addon.cc",
        "src/binding.cc",
        "src/errors.cc",
        "src/poller.cc",
        "src/pump.cc",
        "src/request.cc"
      ],
      # C++ exceptions on, including std::exception: a failed N-API call or a bad_alloc while
      # copying a request becomes a JS exception instead of terminating the process.
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # An N-API call that fails because the environment is being torn down (a worker
        # terminated) must not turn into a fatal error inside node-addon-api.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NED_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "include_dirs": [
        "<!@(pkg-config --cflags-only-I libcurl nlohmann_json | sed -e 's/-I//g')"
      ],
      "libraries": [
        "<!@(pkg-config --libs libcurl)"
      ],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-fvisibility=hidden",
        "-fstack-protector-strong"
      ],
      "conditions": [
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
