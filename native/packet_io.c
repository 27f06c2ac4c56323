// Batched, non-blocking packet I/O on a TUN fd.
//
// Read path: uv_poll says readable -> read() until EAGAIN or maxPackets into fixed slots of a
// JS-owned arena, lengths into a JS-owned Uint32Array -> ONE napi_make_callback(count), which
// also drains microtasks. Nothing is allocated per packet or per batch besides the count.
// Write path: synchronous write() per packet; EAGAIN/EIO are counted in the shared stats array,
// never thrown, because a full TUN queue is ordinary backpressure for a VPN.
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

// Indices into the Float64Array of stats shared with JS (src/native/tun.ts mirrors them).
enum {
  ST_READ_PACKETS, ST_READ_BYTES, ST_READ_BATCHES, ST_READ_ERRORS,
  ST_WRITE_PACKETS, ST_WRITE_BYTES, ST_WRITE_EAGAIN, ST_WRITE_EIO, ST_WRITE_ERRORS,
  ST_LAST_ERRNO, ST_COUNT
};

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  bool polling, closed;
  // Freed only when both libuv is done with the poll handle and JS dropped the external.
  bool handle_closed, finalized;
  uint8_t *arena;
  size_t slot_bytes;
  uint32_t max_packets;
  uint32_t *lengths;
  double *stats;
  napi_ref arena_ref, lengths_ref, stats_ref, callback_ref, resource_ref;
  napi_async_context async_context;
} tun_io;

static void on_closed(uv_handle_t *handle) {
  tun_io *io = handle->data;
  io->handle_closed = true;
  if (io->finalized) free(io);
}

static void release(tun_io *io) {
  if (io->closed) return;
  io->closed = true;
  napi_env env = io->env;
  napi_delete_reference(env, io->arena_ref);
  napi_delete_reference(env, io->lengths_ref);
  napi_delete_reference(env, io->stats_ref);
  napi_delete_reference(env, io->callback_ref);
  napi_delete_reference(env, io->resource_ref);
  napi_async_destroy(env, io->async_context);
  uv_poll_stop(&io->poll);
  uv_close((uv_handle_t *)&io->poll, on_closed);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  tun_io *io = handle->data;
  if (io->closed) return;
  if (status < 0) {
    io->stats[ST_READ_ERRORS]++;
    io->stats[ST_LAST_ERRNO] = -status;
    return;
  }
  uint32_t count = 0;
  size_t bytes = 0;
  while (count < io->max_packets) {
    ssize_t n = read(io->fd, io->arena + (size_t)count * io->slot_bytes, io->slot_bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        io->stats[ST_READ_ERRORS]++;
        io->stats[ST_LAST_ERRNO] = errno;
      }
      break;
    }
    io->lengths[count++] = (uint32_t)n;
    bytes += (size_t)n;
  }
  if (count == 0) return;
  io->stats[ST_READ_PACKETS] += count;
  io->stats[ST_READ_BYTES] += (double)bytes;
  io->stats[ST_READ_BATCHES]++;

  napi_env env = io->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, resource, argv[1];
  if (napi_get_reference_value(env, io->callback_ref, &callback) == napi_ok &&
      napi_get_reference_value(env, io->resource_ref, &resource) == napi_ok &&
      napi_create_uint32(env, count, &argv[0]) == napi_ok) {
    if (napi_make_callback(env, io->async_context, resource, callback, 1, argv, NULL) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void finalize_io(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  tun_io *io = data;
  io->finalized = true;
  release(io);
  if (io->handle_closed) free(io);
}

static bool keep(napi_env env, napi_value value, napi_ref *ref) {
  return napi_create_reference(env, value, 1, ref) == napi_ok;
}

// ioOpen(fd, arena: Uint8Array, slotBytes, lengths: Uint32Array, stats: Float64Array, onBatch(count))
// -> handle. The arena holds lengths.length slots of slotBytes each.
static napi_value io_open(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd; uint32_t slot_bytes; uint8_t *arena, *lengths, *stats; size_t arena_len, lengths_len, stats_len;
  napi_valuetype cb_type = napi_undefined;
  if (argc == 6) napi_typeof(env, argv[5], &cb_type);
  if (argc < 6 || !gst_arg_int32(env, argv[0], &fd) || !gst_arg_bytes(env, argv[1], &arena, &arena_len) ||
      !gst_arg_uint32(env, argv[2], &slot_bytes) || !gst_arg_bytes(env, argv[3], &lengths, &lengths_len) ||
      !gst_arg_bytes(env, argv[4], &stats, &stats_len) || cb_type != napi_function) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: ioOpen(fd, arena, slotBytes, lengths, stats, onBatch)");
  }
  uint32_t max_packets = (uint32_t)(lengths_len / 4);
  if (slot_bytes == 0 || max_packets == 0 || (size_t)slot_bytes * max_packets > arena_len || stats_len < ST_COUNT * sizeof(double) ||
      ((uintptr_t)lengths & 3) || ((uintptr_t)stats & 7)) {
    return gst_throw(env, "ERR_INVALID_ARG", "arena smaller than slotBytes x lengths.length, or stats too short");
  }
  tun_io *io = calloc(1, sizeof *io);
  if (!io) return gst_throw(env, "ENOMEM", "out of memory");
  io->env = env;
  io->fd = fd;
  io->arena = arena;
  io->slot_bytes = slot_bytes;
  io->max_packets = max_packets;
  io->lengths = (uint32_t *)lengths;
  io->stats = (double *)stats;
  io->poll.data = io;
  uv_loop_t *loop;
  int rc = UV_EINVAL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || (rc = uv_poll_init(loop, &io->poll, fd)) != 0) {
    free(io);
    return gst_throw_errno(env, -rc, "couldn't poll TUN fd", NULL);
  }
  napi_value resource, name, handle;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "gst:tun-read", NAPI_AUTO_LENGTH, &name));
  if (!keep(env, argv[1], &io->arena_ref) || !keep(env, argv[3], &io->lengths_ref) || !keep(env, argv[4], &io->stats_ref) ||
      !keep(env, argv[5], &io->callback_ref) || !keep(env, resource, &io->resource_ref) ||
      napi_async_init(env, resource, name, &io->async_context) != napi_ok ||
      napi_create_external(env, io, finalize_io, NULL, &handle) != napi_ok) {
    gst_rethrow(env);
    return NULL;
  }
  return handle;
}

static tun_io *io_arg(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self_args[8];
  size_t want = *argc;
  if (napi_get_cb_info(env, info, argc, self_args, NULL, NULL) != napi_ok || *argc < 1) return NULL;
  void *io = NULL;
  if (napi_get_value_external(env, self_args[0], &io) != napi_ok) return NULL;
  for (size_t i = 1; i < want && i < 8; i++) argv[i - 1] = self_args[i];
  *argc = *argc - 1;
  if (((tun_io *)io)->closed) return NULL;
  return io;
}

#define IO_OR_THROW(n) \
  size_t argc = (n) + 1; napi_value argv[(n) + 1]; \
  tun_io *io = io_arg(env, info, &argc, argv); \
  if (!io) return gst_throw(env, "ERR_INVALID_STATE", "TUN I/O handle is closed or invalid");

// readStart(handle): (re)arms readiness; a readable fd fires at once (epoll is level-triggered).
static napi_value read_start(napi_env env, napi_callback_info info) {
  IO_OR_THROW(0)
  (void)argv;
  if (!io->polling) {
    int rc = uv_poll_start(&io->poll, UV_READABLE, on_readable);
    if (rc) return gst_throw_errno(env, -rc, "couldn't poll TUN fd", NULL);
    io->polling = true;
  }
  return NULL;
}

static napi_value read_stop(napi_env env, napi_callback_info info) {
  IO_OR_THROW(0)
  (void)argv;
  uv_poll_stop(&io->poll);
  io->polling = false;
  return NULL;
}

// ioClose(handle): stops polling and drops references. The fd itself is closed by tunClose.
static napi_value io_close(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; void *io = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_external(env, argv[0], &io) != napi_ok) return gst_throw(env, "ERR_INVALID_ARG", "usage: ioClose(handle)");
  release(io);
  return NULL;
}

static bool write_one(tun_io *io, const uint8_t *data, size_t len) {
  for (;;) {
    ssize_t n = write(io->fd, data, len);
    if (n >= 0) {
      io->stats[ST_WRITE_PACKETS]++;
      io->stats[ST_WRITE_BYTES] += (double)n;
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) io->stats[ST_WRITE_EAGAIN]++;
    else if (errno == EIO) io->stats[ST_WRITE_EIO]++;
    else io->stats[ST_WRITE_ERRORS]++;
    io->stats[ST_LAST_ERRNO] = errno;
    return false;
  }
}

// write(handle, packet: Uint8Array, length?) -> boolean (false: dropped and counted)
static napi_value io_write(napi_env env, napi_callback_info info) {
  IO_OR_THROW(2)
  uint8_t *data; size_t len; uint32_t limit;
  if (argc < 1 || !gst_arg_bytes(env, argv[0], &data, &len)) return gst_throw(env, "ERR_INVALID_ARG", "usage: write(handle, packet, length?)");
  if (argc >= 2 && gst_arg_uint32(env, argv[1], &limit) && limit < len) len = limit;
  napi_value result;
  CHECK(napi_get_boolean(env, write_one(io, data, len), &result));
  return result;
}

// writeBatch(handle, packets: Uint8Array[], count) -> packets written
static napi_value io_write_batch(napi_env env, napi_callback_info info) {
  IO_OR_THROW(2)
  uint32_t count, written = 0;
  if (argc < 2 || !gst_arg_uint32(env, argv[1], &count)) return gst_throw(env, "ERR_INVALID_ARG", "usage: writeBatch(handle, packets, count)");
  for (uint32_t i = 0; i < count; i++) {
    napi_value element; uint8_t *data; size_t len;
    CHECK(napi_get_element(env, argv[0], i, &element));
    if (!gst_arg_bytes(env, element, &data, &len)) return gst_throw(env, "ERR_INVALID_ARG", "writeBatch: every packet must be a Uint8Array");
    written += write_one(io, data, len);
  }
  napi_value result;
  CHECK(napi_create_uint32(env, written, &result));
  return result;
}

// writeSlots(handle, arena: Uint8Array, slotBytes, lengths: Uint32Array, count) -> packets written.
// The arena layout of the read path, so a batch can be forwarded without one view per packet.
static napi_value io_write_slots(napi_env env, napi_callback_info info) {
  IO_OR_THROW(4)
  uint8_t *arena, *lengths_bytes; size_t arena_len, lengths_len; uint32_t slot_bytes, count, written = 0;
  if (argc < 4 || !gst_arg_bytes(env, argv[0], &arena, &arena_len) || !gst_arg_uint32(env, argv[1], &slot_bytes) ||
      !gst_arg_bytes(env, argv[2], &lengths_bytes, &lengths_len) || !gst_arg_uint32(env, argv[3], &count) ||
      count > lengths_len / 4 || (size_t)count * slot_bytes > arena_len || ((uintptr_t)lengths_bytes & 3)) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: writeSlots(handle, arena, slotBytes, lengths, count) within the arena");
  }
  const uint32_t *lengths = (const uint32_t *)lengths_bytes;
  for (uint32_t i = 0; i < count; i++) {
    size_t len = lengths[i] < slot_bytes ? lengths[i] : slot_bytes;
    written += write_one(io, arena + (size_t)i * slot_bytes, len);
  }
  napi_value result;
  CHECK(napi_create_uint32(env, written, &result));
  return result;
}

void gst_register_tun_io(napi_env env, napi_value exports) {
  gst_export(env, exports, "ioOpen", io_open);
  gst_export(env, exports, "ioClose", io_close);
  gst_export(env, exports, "readStart", read_start);
  gst_export(env, exports, "readStop", read_stop);
  gst_export(env, exports, "write", io_write);
  gst_export(env, exports, "writeBatch", io_write_batch);
  gst_export(env, exports, "writeSlots", io_write_slots);
}
