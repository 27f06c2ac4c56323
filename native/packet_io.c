// Batched, non-blocking packet I/O on a TUN fd or a UDP socket.
//
// Read path: uv_poll says readable -> read() (TUN) or recvmmsg() (UDP) until EAGAIN or
// maxPackets into fixed slots of a JS-owned arena, lengths into a JS-owned Uint32Array, UDP
// source addresses into a JS-owned Uint8Array (ADDR_BYTES per slot) -> ONE
// napi_make_callback(count), which also drains microtasks. Nothing is allocated per packet or
// per batch besides the count.
// Write path: synchronous write()/sendto()/sendmmsg(); EAGAIN/EIO are counted in the shared
// stats array, never thrown, because a full queue is ordinary backpressure for a VPN.
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

// Indices into the Float64Array of stats shared with JS (src/native/tun.ts mirrors them).
enum {
  ST_READ_PACKETS, ST_READ_BYTES, ST_READ_BATCHES, ST_READ_ERRORS,
  ST_WRITE_PACKETS, ST_WRITE_BYTES, ST_WRITE_EAGAIN, ST_WRITE_EIO, ST_WRITE_ERRORS,
  ST_LAST_ERRNO, ST_COUNT
};

// Datagram address layout in JS arrays (src/native/udp.ts mirrors it): family (4 or 6),
// 0, port (big endian), address (4 or 16 bytes).
#define ADDR_BYTES 20
#define SEND_CHUNK 64  // our choice: sendmmsg vectors built on the stack, 64 at a time

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
  napi_ref arena_ref, lengths_ref, stats_ref, callback_ref, resource_ref, addrs_ref;
  // UDP mode only: source addresses per slot, and recvmmsg vectors prepared once.
  uint8_t *addrs;
  struct mmsghdr *msgs;
  struct iovec *iovs;
  struct sockaddr_in6 *names;
  napi_async_context async_context;
} tun_io;

static void destroy(tun_io *io) {
  free(io->msgs);
  free(io->iovs);
  free(io->names);
  free(io);
}

static void on_closed(uv_handle_t *handle) {
  tun_io *io = handle->data;
  io->handle_closed = true;
  if (io->finalized) destroy(io);
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
  if (io->addrs_ref) napi_delete_reference(env, io->addrs_ref);
  napi_async_destroy(env, io->async_context);
  uv_poll_stop(&io->poll);
  uv_close((uv_handle_t *)&io->poll, on_closed);
}

static void encode_addr(const struct sockaddr_in6 *name, uint8_t *out) {
  memset(out, 0, ADDR_BYTES);
  if (name->sin6_family == AF_INET) {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)name;
    out[0] = 4;
    memcpy(out + 2, &v4->sin_port, 2);
    memcpy(out + 4, &v4->sin_addr, 4);
  } else {
    out[0] = 6;
    memcpy(out + 2, &name->sin6_port, 2);
    memcpy(out + 4, &name->sin6_addr, 16);
  }
}

static socklen_t decode_addr(const uint8_t *in, struct sockaddr_in6 *name) {
  memset(name, 0, sizeof *name);
  if (in[0] == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)name;
    v4->sin_family = AF_INET;
    memcpy(&v4->sin_port, in + 2, 2);
    memcpy(&v4->sin_addr, in + 4, 4);
    return sizeof *v4;
  }
  name->sin6_family = AF_INET6;
  memcpy(&name->sin6_port, in + 2, 2);
  memcpy(&name->sin6_addr, in + 4, 16);
  return sizeof *name;
}

// Reads up to max_packets datagrams; returns the count, sets *bytes.
static uint32_t receive_datagrams(tun_io *io, size_t *bytes) {
  uint32_t count = 0;
  while (count < io->max_packets) {
    for (uint32_t i = count; i < io->max_packets; i++) io->msgs[i].msg_hdr.msg_namelen = sizeof io->names[i];
    int n = recvmmsg(io->fd, io->msgs + count, io->max_packets - count, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        io->stats[ST_READ_ERRORS]++;
        io->stats[ST_LAST_ERRNO] = errno;
      }
      break;
    }
    if (n == 0) break;
    for (uint32_t i = count; i < count + (uint32_t)n; i++) {
      io->lengths[i] = io->msgs[i].msg_len;
      *bytes += io->msgs[i].msg_len;
      encode_addr(&io->names[i], io->addrs + (size_t)i * ADDR_BYTES);
    }
    count += (uint32_t)n;
  }
  return count;
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
  if (io->addrs) count = receive_datagrams(io, &bytes);
  else while (count < io->max_packets) {
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
  if (io->handle_closed) destroy(io);
}

static bool keep(napi_env env, napi_value value, napi_ref *ref) {
  return napi_create_reference(env, value, 1, ref) == napi_ok;
}

// ioOpen(fd, arena: Uint8Array, slotBytes, lengths: Uint32Array, stats: Float64Array, onBatch(count),
// addrs?: Uint8Array) -> handle. The arena holds lengths.length slots of slotBytes each; with
// addrs (ADDR_BYTES per slot) the fd is a datagram socket read with recvmmsg.
static napi_value io_open(napi_env env, napi_callback_info info) {
  size_t argc = 7; napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd; uint32_t slot_bytes; uint8_t *arena, *lengths, *stats; size_t arena_len, lengths_len, stats_len;
  napi_valuetype cb_type = napi_undefined;
  if (argc >= 6) napi_typeof(env, argv[5], &cb_type);
  uint8_t *addrs = NULL; size_t addrs_len = 0;
  napi_valuetype addrs_type = napi_undefined;
  if (argc >= 7) napi_typeof(env, argv[6], &addrs_type);
  if (addrs_type != napi_undefined && (!gst_arg_bytes(env, argv[6], &addrs, &addrs_len))) {
    return gst_throw(env, "ERR_INVALID_ARG", "ioOpen: addrs must be a Uint8Array");
  }
  if (argc < 6 || !gst_arg_int32(env, argv[0], &fd) || !gst_arg_bytes(env, argv[1], &arena, &arena_len) ||
      !gst_arg_uint32(env, argv[2], &slot_bytes) || !gst_arg_bytes(env, argv[3], &lengths, &lengths_len) ||
      !gst_arg_bytes(env, argv[4], &stats, &stats_len) || cb_type != napi_function) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: ioOpen(fd, arena, slotBytes, lengths, stats, onBatch)");
  }
  uint32_t max_packets = (uint32_t)(lengths_len / 4);
  if (slot_bytes == 0 || max_packets == 0 || (size_t)slot_bytes * max_packets > arena_len || stats_len < ST_COUNT * sizeof(double) ||
      ((uintptr_t)lengths & 3) || ((uintptr_t)stats & 7) || (addrs && addrs_len < (size_t)max_packets * ADDR_BYTES)) {
    return gst_throw(env, "ERR_INVALID_ARG", "arena smaller than slotBytes x lengths.length, or stats or addrs too short");
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
  if (addrs) {
    io->addrs = addrs;
    io->msgs = calloc(max_packets, sizeof *io->msgs);
    io->iovs = calloc(max_packets, sizeof *io->iovs);
    io->names = calloc(max_packets, sizeof *io->names);
    if (!io->msgs || !io->iovs || !io->names) { destroy(io); return gst_throw(env, "ENOMEM", "out of memory"); }
    for (uint32_t i = 0; i < max_packets; i++) {
      io->iovs[i] = (struct iovec){ arena + (size_t)i * slot_bytes, slot_bytes };
      io->msgs[i].msg_hdr = (struct msghdr){ .msg_name = &io->names[i], .msg_namelen = sizeof io->names[i], .msg_iov = &io->iovs[i], .msg_iovlen = 1 };
    }
  }
  uv_loop_t *loop;
  int rc = UV_EINVAL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || (rc = uv_poll_init(loop, &io->poll, fd)) != 0) {
    destroy(io);
    return gst_throw_errno(env, -rc, "couldn't poll TUN fd", NULL);
  }
  napi_value resource, name, handle;
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "gst:tun-read", NAPI_AUTO_LENGTH, &name));
  if (!keep(env, argv[1], &io->arena_ref) || !keep(env, argv[3], &io->lengths_ref) || !keep(env, argv[4], &io->stats_ref) ||
      !keep(env, argv[5], &io->callback_ref) || !keep(env, resource, &io->resource_ref) ||
      (addrs && !keep(env, argv[6], &io->addrs_ref)) ||
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

static void count_write_error(tun_io *io, int err, double packets) {
  if (err == EAGAIN) io->stats[ST_WRITE_EAGAIN] += packets;
  else if (err == EIO) io->stats[ST_WRITE_EIO] += packets;
  else io->stats[ST_WRITE_ERRORS] += packets;
  io->stats[ST_LAST_ERRNO] = err;
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
    count_write_error(io, errno, 1);
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

// sendTo(handle, packet: Uint8Array, length, addrs: Uint8Array, addrIndex) -> boolean
static napi_value io_send_to(napi_env env, napi_callback_info info) {
  IO_OR_THROW(4)
  uint8_t *data, *addrs; size_t len, addrs_len; uint32_t limit, index;
  if (argc < 4 || !gst_arg_bytes(env, argv[0], &data, &len) || !gst_arg_uint32(env, argv[1], &limit) ||
      !gst_arg_bytes(env, argv[2], &addrs, &addrs_len) || !gst_arg_uint32(env, argv[3], &index) || ((size_t)index + 1) * ADDR_BYTES > addrs_len) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: sendTo(handle, packet, length, addrs, addrIndex)");
  }
  if (limit < len) len = limit;
  struct sockaddr_in6 name;
  socklen_t name_len = decode_addr(addrs + (size_t)index * ADDR_BYTES, &name);
  bool sent = false;
  for (;;) {
    ssize_t n = sendto(io->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&name, name_len);
    if (n >= 0) { io->stats[ST_WRITE_PACKETS]++; io->stats[ST_WRITE_BYTES] += (double)n; sent = true; break; }
    if (errno == EINTR) continue;
    count_write_error(io, errno, 1);
    break;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, sent, &result));
  return result;
}

// sendSlots(handle, arena, slotBytes, lengths, addrs, count) -> datagrams sent, with sendmmsg.
// A datagram the kernel refuses (e.g. EMSGSIZE) is counted and skipped; EAGAIN drops the rest.
static napi_value io_send_slots(napi_env env, napi_callback_info info) {
  IO_OR_THROW(5)
  uint8_t *arena, *lengths_bytes, *addrs; size_t arena_len, lengths_len, addrs_len; uint32_t slot_bytes, count, sent = 0;
  if (argc < 5 || !gst_arg_bytes(env, argv[0], &arena, &arena_len) || !gst_arg_uint32(env, argv[1], &slot_bytes) ||
      !gst_arg_bytes(env, argv[2], &lengths_bytes, &lengths_len) || !gst_arg_bytes(env, argv[3], &addrs, &addrs_len) ||
      !gst_arg_uint32(env, argv[4], &count) || count > lengths_len / 4 || (size_t)count * slot_bytes > arena_len ||
      (size_t)count * ADDR_BYTES > addrs_len || ((uintptr_t)lengths_bytes & 3)) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: sendSlots(handle, arena, slotBytes, lengths, addrs, count) within the arrays");
  }
  const uint32_t *lengths = (const uint32_t *)lengths_bytes;
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iovs[SEND_CHUNK];
  struct sockaddr_in6 names[SEND_CHUNK];
  uint32_t next = 0;
  while (next < count) {
    uint32_t n = count - next < SEND_CHUNK ? count - next : SEND_CHUNK;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t slot = next + i;
      iovs[i] = (struct iovec){ arena + (size_t)slot * slot_bytes, lengths[slot] < slot_bytes ? lengths[slot] : slot_bytes };
      socklen_t name_len = decode_addr(addrs + (size_t)slot * ADDR_BYTES, &names[i]);
      msgs[i].msg_hdr = (struct msghdr){ .msg_name = &names[i], .msg_namelen = name_len, .msg_iov = &iovs[i], .msg_iovlen = 1 };
      msgs[i].msg_len = 0;
    }
    int done = sendmmsg(io->fd, msgs, n, MSG_DONTWAIT);
    if (done < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { count_write_error(io, EAGAIN, count - next); break; }
      count_write_error(io, errno, 1);  // the first datagram of this chunk was refused
      next++;
      continue;
    }
    for (int i = 0; i < done; i++) io->stats[ST_WRITE_BYTES] += msgs[i].msg_len;
    io->stats[ST_WRITE_PACKETS] += done;
    sent += (uint32_t)done;
    next += (uint32_t)done;
  }
  napi_value result;
  CHECK(napi_create_uint32(env, sent, &result));
  return result;
}

void gst_register_packet_io(napi_env env, napi_value exports) {
  gst_export(env, exports, "ioOpen", io_open);
  gst_export(env, exports, "ioClose", io_close);
  gst_export(env, exports, "readStart", read_start);
  gst_export(env, exports, "readStop", read_stop);
  gst_export(env, exports, "write", io_write);
  gst_export(env, exports, "writeBatch", io_write_batch);
  gst_export(env, exports, "writeSlots", io_write_slots);
  gst_export(env, exports, "sendTo", io_send_to);
  gst_export(env, exports, "sendSlots", io_send_slots);
}
