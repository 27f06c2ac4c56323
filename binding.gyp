{
  # `npm install` runs `node-gyp rebuild` because this file exists: it builds the N-API addon
  # (build/Release/gst_native.node) and the test lab's link emulator (build/Release/wire).
  "targets": [
    {
      "target_name": "gst_native",
      "sources": ["native/gst_native.c", "native/tun.c", "native/packet_io.c", "native/sockopt.c", "native/udp.c", "native/aead.c", "native/offload.c", "native/caps.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "wire",
      "type": "executable",
      "sources": ["test/lab/wire.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
