{
  "targets": [
    {
      "target_name": "tcpsniff",
      "sources": ["native/addon.cc", "native/probe.cc", "native/libbpf_log.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(module_root_dir)/.cache/libbpf/out/include",
        "<(module_root_dir)/bpf/include"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-fno-exceptions"],
      "libraries": [
        "<(module_root_dir)/.cache/libbpf/out/libbpf.a",
        "-lelf", "-lz", "-Wl,--exclude-libs,ALL"
      ]
    }
  ]
}
