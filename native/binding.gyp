{
  "targets": [
    {
      "target_name": "filewarden_native",
      "sources": ["src/addon.cc", "src/hook_check.cc", "src/js_options.cc", "src/pins.cc", "src/probe.cc", "src/process_kill.cc", "src/ring.cc", "src/ring_reader.cc", "src/stat_mount.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../build/static/include",
        "../build/bpf",
        "../bpf/include"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "libraries": [
        "-Wl,--exclude-libs,ALL",
        "<(module_root_dir)/../build/static/lib/libbpf.a",
        "<(module_root_dir)/../build/static/lib/libelf.a",
        "<(module_root_dir)/../build/static/lib/libz.a"
      ]
    }
  ]
}
