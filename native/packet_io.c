// Batched, non-blocking packet I/O on a TUN fd or a UDP socket.
//
// Read path: uv_poll says readable -> read() (TUN) or recvmmsg() (UDP) until EAGAIN or
// maxPackets into fixed slots of a JS-owned arena, lengths into a JS-owned Uint32Array, UDP
// source addresses into a JS-owned Uint8Array (ADDR_BYTES per slot) -> ONE
// napi_make_callback(count), which also drains microtasks. Nothing is allocated per packet or
// per batch besides the count.
// Write path: synchronous write()/sendto()/sendmmsg(); EAGAIN/EIO are counted in the shared
// stats array, never thrown, because a full queue is ordinary backpressure for a VPN.
//
// UDP offload (when the kernel has it): sendSlots sends each run of equal-sized datagrams to one
// address as ONE message with UDP_SEGMENT (the kernel, or the peer's GRO, splits it), and a
// socket opened with an offsets array reads with UDP_GRO: one recvmmsg entry may then carry many
// datagrams of one size back to back, which are described to JS by offsets[i] and lengths[i].
#define _GNU_SOURCE
#include "common.h"
#include "offload.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

// Indices into the Float64Array of stats shared with JS (src/native/tun.ts mirrors them).
enum {
  ST_READ_PACKETS, ST_READ_BYTES, ST_READ_BATCHES, ST_READ_ERRORS,
  ST_WRITE_PACKETS, ST_WRITE_BYTES, ST_WRITE_EAGAIN, ST_WRITE_EIO, ST_WRITE_ERRORS,
  ST_LAST_ERRNO, ST_READ_SUPER, ST_WRITE_SUPER, ST_COUNT
};

// Datagram address layout in JS arrays (src/native/udp.ts mirrors it), two halves of
// PEER_BYTES: the peer (family 4 or 6, 0, port big endian, address 4 or 16 bytes), then the
// local address the datagram arrived on (same layout, port 0; family 0 when unknown). A socket
// bound to a wildcard address receives it through IP_PKTINFO / IPV6_PKTINFO, and sends with it
// as the source, so a reply leaves from the address the peer wrote to (not the route's choice).
#define PEER_BYTES 20
#define ADDR_BYTES (2 * PEER_BYTES)
#define SEND_CHUNK 64  // our choice: sendmmsg vectors built on the stack, 64 at a time
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
// Our choice, within the kernel's limits (UDP_MAX_SEGMENTS is 64 on older kernels, a GSO
// message at most 64 KiB): datagrams per UDP_SEGMENT message, and bytes.
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000
// Disable UDP_SEGMENT after this many failed offloaded sends in a row (each was resent unsegmented).
#define GSO_MAX_FAILURES 16
// A GRO receive buffer: the largest coalesced message the kernel hands over.
#define GRO_BUFFER_BYTES 65536
// The most datagrams one coalesced message may hold (UDP_MAX_SEGMENTS on recent kernels).
#define GRO_MAX_SEGMENTS 128

// Control data of one received message: a UDP_GRO segment size and a packet-info destination.
#define RECV_CONTROL_BYTES (CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)))
// Control data of one sent message: a UDP_SEGMENT size and a packet-info source.
#define SEND_CONTROL_BYTES (CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)))

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
  // UDP GRO mode: offsets of packets in the arena (read buffers of slot_bytes each, msg_count of them).
  uint32_t *offsets;
  uint32_t msg_count;
  char (*controls)[RECV_CONTROL_BYTES];
  // UDP_SEGMENT on sends: available, and failures in a row.
  bool gso;
  uint32_t gso_failures;
  napi_ref offsets_ref;
  // TUN with IFF_VNET_HDR: every read and write carries a virtio_net_hdr; a read may be a TCP
  // super-packet, cut into slots (what does not fit a batch stays pending for the next one).
  bool vnet;
  uint8_t *super;
  size_t pending_len;
  uint32_t pending_next, pending_total;
  gst_vnet_hdr pending_hdr;
  napi_async_context async_context;
} tun_io;

// A TUN read buffer with offload: the vnet header and the largest super-packet.
#define SUPER_BYTES (GST_VNET_HDR_BYTES + 65536)
// writeSlots with offload plans this many packets at a time (our choice: a few read batches).
#define GRO_CHUNK 256

static void destroy(tun_io *io) {
  free(io->msgs);
  free(io->iovs);
  free(io->names);
  free(io->controls);
  free(io->super);
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
  if (io->offsets_ref) napi_delete_reference(env, io->offsets_ref);
  napi_async_destroy(env, io->async_context);
  uv_poll_stop(&io->poll);
  uv_close((uv_handle_t *)&io->poll, on_closed);
}

// Writes the peer half of an address slot (and clears the local half).
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

// Writes the local half of an address slot from a received message's packet info, if any.
static void encode_local(struct msghdr *hdr, uint8_t *slot) {
  uint8_t *out = slot + PEER_BYTES;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c; c = CMSG_NXTHDR(hdr, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      out[0] = 4;
      memcpy(out + 4, &info.ipi_addr, 4);
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof info);
      out[0] = 6;
      memcpy(out + 4, &info.ipi6_addr, 16);
      return;
    }
  }
}

// Appends to hdr's control buffer (of `room` bytes) a packet-info message choosing the source
// address from the local half of slot, when it is known; returns the control bytes used.
static size_t add_source(const uint8_t *slot, struct msghdr *hdr, size_t used, size_t room) {
  const uint8_t *local = slot + PEER_BYTES;
  if (local[0] != 4 && local[0] != 6) return used;
  size_t data = local[0] == 4 ? sizeof(struct in_pktinfo) : sizeof(struct in6_pktinfo);
  if (used + CMSG_SPACE(data) > room) return used;
  struct cmsghdr *c = (struct cmsghdr *)((char *)hdr->msg_control + used);
  memset(c, 0, CMSG_SPACE(data));
  c->cmsg_len = CMSG_LEN(data);
  if (local[0] == 4) {
    struct in_pktinfo info = { 0 };
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    memcpy(&info.ipi_spec_dst, local + 4, 4);
    memcpy(CMSG_DATA(c), &info, sizeof info);
  } else {
    struct in6_pktinfo info = { 0 };
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    memcpy(&info.ipi6_addr, local + 4, 16);
    memcpy(CMSG_DATA(c), &info, sizeof info);
  }
  return used + CMSG_SPACE(data);
}

// A single-message send to the peer of slot, from its local address when known.
static ssize_t send_from(int fd, const uint8_t *slot, const void *data, size_t len) {
  struct sockaddr_in6 name;
  _Alignas(struct cmsghdr) char control[SEND_CONTROL_BYTES];
  struct iovec iov = { (void *)data, len };
  struct msghdr hdr = { .msg_name = &name, .msg_namelen = decode_addr(slot, &name), .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control };
  hdr.msg_controllen = add_source(slot, &hdr, 0, sizeof control);
  if (hdr.msg_controllen == 0) hdr.msg_control = NULL;
  return sendmsg(fd, &hdr, MSG_DONTWAIT);
}

// Reads up to max_packets datagrams; returns the count, sets *bytes.
static uint32_t receive_datagrams(tun_io *io, size_t *bytes) {
  uint32_t count = 0;
  while (count < io->max_packets) {
    for (uint32_t i = count; i < io->max_packets; i++) {
      io->msgs[i].msg_hdr.msg_namelen = sizeof io->names[i];
      io->msgs[i].msg_hdr.msg_controllen = sizeof io->controls[i];
    }
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
      encode_local(&io->msgs[i].msg_hdr, io->addrs + (size_t)i * ADDR_BYTES);
    }
    count += (uint32_t)n;
  }
  return count;
}

// The segment size of a coalesced (UDP_GRO) message, or 0 when it holds one datagram.
static uint32_t gro_segment_size(struct msghdr *hdr) {
  for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c; c = CMSG_NXTHDR(hdr, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? (uint32_t)size : 0;
    }
  }
  return 0;
}

// GRO mode: each recvmmsg entry reads into its own buffer (slot); a coalesced entry is split
// into its datagrams by offset. Buffers are not reused within a batch; a recvmmsg asks for no
// more entries than the packet arrays can describe in the worst case.
static uint32_t receive_coalesced(tun_io *io, size_t *bytes) {
  uint32_t count = 0, used = 0;
  while (used < io->msg_count) {
    uint32_t want = (io->max_packets - count) / GRO_MAX_SEGMENTS;
    if (want > io->msg_count - used) want = io->msg_count - used;
    if (want == 0) break;
    for (uint32_t i = used; i < used + want; i++) {
      io->msgs[i].msg_hdr.msg_namelen = sizeof io->names[i];
      io->msgs[i].msg_hdr.msg_controllen = sizeof io->controls[i];
      io->msgs[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(io->fd, io->msgs + used, want, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        io->stats[ST_READ_ERRORS]++;
        io->stats[ST_LAST_ERRNO] = errno;
      }
      break;
    }
    if (n == 0) break;
    for (uint32_t m = used; m < used + (uint32_t)n; m++) {
      struct msghdr *hdr = &io->msgs[m].msg_hdr;
      uint32_t length = io->msgs[m].msg_len;
      if (hdr->msg_flags & MSG_TRUNC) { io->stats[ST_READ_ERRORS]++; continue; }
      uint32_t segment = gro_segment_size(hdr);
      if (segment == 0 || segment > length) segment = length;
      uint8_t addr[ADDR_BYTES];
      encode_addr(&io->names[m], addr);
      encode_local(hdr, addr);
      for (uint32_t at = 0; at < length || (length == 0 && at == 0); at += segment) {
        if (count == io->max_packets) { io->stats[ST_READ_ERRORS]++; break; }
        uint32_t part = length - at < segment ? length - at : segment;
        io->offsets[count] = m * (uint32_t)io->slot_bytes + at;
        io->lengths[count] = part;
        memcpy(io->addrs + (size_t)count * ADDR_BYTES, addr, ADDR_BYTES);
        count++;
        *bytes += part;
        if (length == 0) break;
      }
    }
    used += (uint32_t)n;
    if ((uint32_t)n < want) break;
  }
  return count;
}

// Offload mode: fills slots from the pending super-packet, then from new reads, until the batch
// is full or the fd is drained.
static uint32_t read_offloaded(tun_io *io, size_t *bytes) {
  uint32_t count = 0;
  while (count < io->max_packets) {
    if (io->pending_len > 0) {
      int n = gst_gso_split(&io->pending_hdr, io->super + GST_VNET_HDR_BYTES, io->pending_len, io->pending_next, io->max_packets - count,
                            io->arena + (size_t)count * io->slot_bytes, io->slot_bytes, io->lengths + count);
      if (n < 0) { io->stats[ST_READ_ERRORS]++; io->pending_len = 0; continue; }
      for (int i = 0; i < n; i++) *bytes += io->lengths[count + i];
      count += (uint32_t)n;
      io->pending_next += (uint32_t)n;
      if (io->pending_next >= io->pending_total) io->pending_len = 0;
      continue;
    }
    ssize_t n = read(io->fd, io->super, SUPER_BYTES);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        io->stats[ST_READ_ERRORS]++;
        io->stats[ST_LAST_ERRNO] = errno;
      }
      break;
    }
    if (n <= GST_VNET_HDR_BYTES) { io->stats[ST_READ_ERRORS]++; continue; }
    gst_vnet_read(io->super, &io->pending_hdr);
    int total = gst_gso_count(&io->pending_hdr, io->super + GST_VNET_HDR_BYTES, (size_t)n - GST_VNET_HDR_BYTES);
    if (total < 0) { io->stats[ST_READ_ERRORS]++; continue; }
    if (total > 1) io->stats[ST_READ_SUPER]++;
    io->pending_len = (size_t)n - GST_VNET_HDR_BYTES;
    io->pending_next = 0;
    io->pending_total = (uint32_t)total;
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
  // With offload a super-packet may not fit one batch: the rest goes in the next callback.
  do {
  uint32_t count = 0;
  size_t bytes = 0;
  if (io->offsets) count = receive_coalesced(io, &bytes);
  else if (io->addrs) count = receive_datagrams(io, &bytes);
  else if (io->vnet) count = read_offloaded(io, &bytes);
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
  if (count == 0) break;
  io->stats[ST_READ_PACKETS] += count;
  io->stats[ST_READ_BYTES] += (double)bytes;
  io->stats[ST_READ_BATCHES]++;

  napi_env env = io->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) break;
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
  } while (!io->closed && io->pending_len > 0);
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
// addrs?: Uint8Array, offsets?: Uint32Array) -> handle. The arena holds lengths.length slots of
// slotBytes each; with addrs (ADDR_BYTES per slot) the fd is a datagram socket read with
// recvmmsg. With offsets as well (as long as lengths) it is read with UDP_GRO: the arena holds
// arena.length / slotBytes receive buffers, and packet i of a batch is at arena[offsets[i]].
static napi_value io_open(napi_env env, napi_callback_info info) {
  size_t argc = 8; napi_value argv[8];
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
  uint8_t *offsets = NULL; size_t offsets_len = 0;
  napi_valuetype offsets_type = napi_undefined;
  if (argc >= 8) napi_typeof(env, argv[7], &offsets_type);
  if (offsets_type != napi_undefined && (!addrs || !gst_arg_bytes(env, argv[7], &offsets, &offsets_len))) {
    return gst_throw(env, "ERR_INVALID_ARG", "ioOpen: offsets must be a Uint32Array, with addrs");
  }
  if (argc < 6 || !gst_arg_int32(env, argv[0], &fd) || !gst_arg_bytes(env, argv[1], &arena, &arena_len) ||
      !gst_arg_uint32(env, argv[2], &slot_bytes) || !gst_arg_bytes(env, argv[3], &lengths, &lengths_len) ||
      !gst_arg_bytes(env, argv[4], &stats, &stats_len) || cb_type != napi_function) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: ioOpen(fd, arena, slotBytes, lengths, stats, onBatch)");
  }
  uint32_t max_packets = (uint32_t)(lengths_len / 4);
  // GRO mode: the arena is msg_count receive buffers; otherwise one slot per packet.
  uint32_t msg_count = offsets ? (uint32_t)(slot_bytes ? arena_len / slot_bytes : 0) : max_packets;
  if (slot_bytes == 0 || max_packets == 0 || msg_count == 0 || (size_t)slot_bytes * msg_count > arena_len || stats_len < ST_COUNT * sizeof(double) ||
      ((uintptr_t)lengths & 3) || ((uintptr_t)stats & 7) || (addrs && addrs_len < (size_t)max_packets * ADDR_BYTES) ||
      (offsets && (offsets_len < lengths_len || ((uintptr_t)offsets & 3) || (uint64_t)slot_bytes * msg_count > UINT32_MAX))) {
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
    io->msg_count = msg_count;
    io->msgs = calloc(msg_count, sizeof *io->msgs);
    io->iovs = calloc(msg_count, sizeof *io->iovs);
    io->names = calloc(msg_count, sizeof *io->names);
    io->controls = calloc(msg_count, sizeof *io->controls);
    if (!io->msgs || !io->iovs || !io->names || !io->controls) { destroy(io); return gst_throw(env, "ENOMEM", "out of memory"); }
    for (uint32_t i = 0; i < msg_count; i++) {
      io->iovs[i] = (struct iovec){ arena + (size_t)i * slot_bytes, slot_bytes };
      io->msgs[i].msg_hdr = (struct msghdr){ .msg_name = &io->names[i], .msg_namelen = sizeof io->names[i], .msg_iov = &io->iovs[i], .msg_iovlen = 1 };
      io->msgs[i].msg_hdr.msg_control = io->controls[i];
      io->msgs[i].msg_hdr.msg_controllen = sizeof io->controls[i];
    }
    // UDP_SEGMENT exists when it can be set to 0 (off by default; each send asks for it).
    int zero = 0, one = 1;
    io->gso = setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
    // Without UDP_GRO the GRO-mode reader still works: every buffer then holds one datagram.
    if (offsets) {
      setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
      io->offsets = (uint32_t *)offsets;
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
      (addrs && !keep(env, argv[6], &io->addrs_ref)) || (offsets && !keep(env, argv[7], &io->offsets_ref)) ||
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

// ioSetOffload(handle): the fd is a TUN opened with IFF_VNET_HDR (and TUNSETOFFLOAD): reads
// are cut into segments, writes carry a vnet header and writeSlots glues TCP segments.
static napi_value io_set_offload(napi_env env, napi_callback_info info) {
  IO_OR_THROW(0)
  (void)argv;
  if (io->addrs) return gst_throw(env, "ERR_INVALID_ARG", "ioSetOffload: only for a TUN fd");
  if (!io->super && !(io->super = malloc(SUPER_BYTES))) return gst_throw(env, "ENOMEM", "out of memory");
  io->vnet = true;
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
  static const uint8_t no_offload[GST_VNET_HDR_BYTES] = { 0 };
  struct iovec iov[2] = { { (void *)no_offload, sizeof no_offload }, { (void *)data, len } };
  for (;;) {
    ssize_t n = io->vnet ? writev(io->fd, iov, 2) - GST_VNET_HDR_BYTES : write(io->fd, data, len);
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

// Offload mode: segments of one TCP flow glued into super-packets, one writev each.
static uint32_t write_coalesced(tun_io *io, uint8_t *arena, uint32_t slot_bytes, const uint32_t *lengths, uint32_t count) {
  gst_gro_item items[GRO_CHUNK];
  uint32_t next[GRO_CHUNK];
  struct iovec iov[2 + GST_GRO_MAX_SEGMENTS];
  uint8_t vnet[GST_VNET_HDR_BYTES];
  uint32_t written = 0;
  for (uint32_t from = 0; from < count; from += GRO_CHUNK) {
    uint32_t n = count - from < GRO_CHUNK ? count - from : GRO_CHUNK;
    uint8_t *chunk = arena + (size_t)from * slot_bytes;
    uint32_t planned = gst_gro_plan(chunk, slot_bytes, lengths + from, n, items, next);
    for (uint32_t j = 0; j < planned; j++) {
      uint32_t k = gst_gro_finish(chunk, slot_bytes, lengths + from, &items[j], next, vnet, iov);
      for (;;) {
        ssize_t w = writev(io->fd, iov, (int)k);
        if (w >= 0) {
          io->stats[ST_WRITE_PACKETS] += items[j].segments;
          io->stats[ST_WRITE_BYTES] += (double)(w - GST_VNET_HDR_BYTES);
          if (items[j].segments > 1) io->stats[ST_WRITE_SUPER]++;
          written += items[j].segments;
          break;
        }
        if (errno == EINTR) continue;
        count_write_error(io, errno, items[j].segments);
        break;
      }
    }
  }
  return written;
}

// writeSlots(handle, arena: Uint8Array, slotBytes, lengths: Uint32Array, count) -> packets written.
// The arena layout of the read path, so a batch can be forwarded without one view per packet.
// With offload, TCP segments of one flow are glued (their slots' headers are rewritten).
static napi_value io_write_slots(napi_env env, napi_callback_info info) {
  IO_OR_THROW(4)
  uint8_t *arena, *lengths_bytes; size_t arena_len, lengths_len; uint32_t slot_bytes, count, written = 0;
  if (argc < 4 || !gst_arg_bytes(env, argv[0], &arena, &arena_len) || !gst_arg_uint32(env, argv[1], &slot_bytes) ||
      !gst_arg_bytes(env, argv[2], &lengths_bytes, &lengths_len) || !gst_arg_uint32(env, argv[3], &count) ||
      count > lengths_len / 4 || (size_t)count * slot_bytes > arena_len || ((uintptr_t)lengths_bytes & 3)) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: writeSlots(handle, arena, slotBytes, lengths, count) within the arena");
  }
  const uint32_t *lengths = (const uint32_t *)lengths_bytes;
  if (io->vnet) {
    written = write_coalesced(io, arena, slot_bytes, lengths, count);
  } else {
    for (uint32_t i = 0; i < count; i++) {
      size_t len = lengths[i] < slot_bytes ? lengths[i] : slot_bytes;
      written += write_one(io, arena + (size_t)i * slot_bytes, len);
    }
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
  bool sent = false;
  for (;;) {
    ssize_t n = send_from(io->fd, addrs + (size_t)index * ADDR_BYTES, data, len);
    if (n >= 0) { io->stats[ST_WRITE_PACKETS]++; io->stats[ST_WRITE_BYTES] += (double)n; sent = true; break; }
    if (errno == EINTR) continue;
    count_write_error(io, errno, 1);
    break;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, sent, &result));
  return result;
}

// Builds up to SEND_CHUNK messages from slots [next, count): with GSO, a run of datagrams to one
// address, all of one length but the last (which may be shorter), becomes one UDP_SEGMENT
// message. Returns the number of messages; segments[m] says how many datagrams message m holds.
static uint32_t build_messages(tun_io *io, const uint8_t *arena, uint32_t slot_bytes, const uint32_t *lengths, const uint8_t *addrs,
                               uint32_t next, uint32_t count, struct mmsghdr *msgs, struct iovec *iovs, struct sockaddr_in6 *names,
                               char (*controls)[SEND_CONTROL_BYTES], uint32_t *segments) {
  uint32_t m = 0, slot = next, iov = 0;
  while (slot < count && m < SEND_CHUNK && iov < SEND_CHUNK) {
    uint32_t size = lengths[slot] < slot_bytes ? lengths[slot] : slot_bytes;
    const uint8_t *addr = addrs + (size_t)slot * ADDR_BYTES;
    uint32_t first = iov, run = 0, bytes = 0;
    for (;;) {
      uint32_t len = lengths[slot] < slot_bytes ? lengths[slot] : slot_bytes;
      iovs[iov++] = (struct iovec){ (void *)(arena + (size_t)slot * slot_bytes), len };
      run++; bytes += len; slot++;
      if (!io->gso || len < size || len == 0 || slot == count || iov == SEND_CHUNK || run == GSO_MAX_SEGMENTS) break;
      uint32_t after = lengths[slot] < slot_bytes ? lengths[slot] : slot_bytes;
      if (after == 0 || after > size || bytes + after > GSO_MAX_BYTES || memcmp(addrs + (size_t)slot * ADDR_BYTES, addr, ADDR_BYTES) != 0) break;
    }
    socklen_t name_len = decode_addr(addr, &names[m]);
    msgs[m].msg_hdr = (struct msghdr){ .msg_name = &names[m], .msg_namelen = name_len, .msg_iov = &iovs[first], .msg_iovlen = run,
                                       .msg_control = controls[m] };
    size_t used = 0;
    if (run > 1) {
      struct cmsghdr *c = (struct cmsghdr *)controls[m];
      memset(c, 0, CMSG_SPACE(sizeof(uint16_t)));
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t gso_size = (uint16_t)size;
      memcpy(CMSG_DATA(c), &gso_size, sizeof gso_size);
      used = CMSG_SPACE(sizeof(uint16_t));
    }
    used = add_source(addr, &msgs[m].msg_hdr, used, SEND_CONTROL_BYTES);
    msgs[m].msg_hdr.msg_controllen = used;
    if (used == 0) msgs[m].msg_hdr.msg_control = NULL;
    msgs[m].msg_len = 0;
    segments[m] = run;
    m++;
  }
  return m;
}

// Sends slot datagrams one message each (the fallback when a segmented send was refused).
static uint32_t send_each(tun_io *io, const uint8_t *arena, uint32_t slot_bytes, const uint32_t *lengths, const uint8_t *addrs, uint32_t from, uint32_t to) {
  uint32_t sent = 0;
  for (uint32_t s = from; s < to; s++) {
    size_t len = lengths[s] < slot_bytes ? lengths[s] : slot_bytes;
    for (;;) {
      ssize_t n = send_from(io->fd, addrs + (size_t)s * ADDR_BYTES, arena + (size_t)s * slot_bytes, len);
      if (n >= 0) { io->stats[ST_WRITE_PACKETS]++; io->stats[ST_WRITE_BYTES] += (double)n; sent++; break; }
      if (errno == EINTR) continue;
      count_write_error(io, errno, 1);
      break;
    }
  }
  return sent;
}

// sendSlots(handle, arena, slotBytes, lengths, addrs, count) -> datagrams sent, with sendmmsg
// (runs of equal-sized datagrams to one address as one UDP_SEGMENT message when the kernel can).
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
  _Alignas(struct cmsghdr) char controls[SEND_CHUNK][SEND_CONTROL_BYTES];
  uint32_t segments[SEND_CHUNK];
  uint32_t next = 0;
  while (next < count) {
    uint32_t m = build_messages(io, arena, slot_bytes, lengths, addrs, next, count, msgs, iovs, names, controls, segments);
    int done = sendmmsg(io->fd, msgs, m, MSG_DONTWAIT);
    if (done < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN) { count_write_error(io, EAGAIN, count - next); break; }
      if (segments[0] > 1) {
        // The segmented send was refused (no offload on this path, or a size it will not
        // segment): send these datagrams one by one; give up offload after repeated failures.
        if (++io->gso_failures >= GSO_MAX_FAILURES) io->gso = false;
        sent += send_each(io, arena, slot_bytes, lengths, addrs, next, next + segments[0]);
      } else {
        count_write_error(io, err, 1);  // the first datagram of this chunk was refused
      }
      next += segments[0];
      continue;
    }
    for (int i = 0; i < done; i++) {
      io->stats[ST_WRITE_BYTES] += msgs[i].msg_len;
      io->stats[ST_WRITE_PACKETS] += segments[i];
      sent += segments[i];
      next += segments[i];
      if (segments[i] > 1) io->gso_failures = 0;
    }
  }
  napi_value result;
  CHECK(napi_create_uint32(env, sent, &result));
  return result;
}

void gst_register_packet_io(napi_env env, napi_value exports) {
  gst_export(env, exports, "ioOpen", io_open);
  gst_export(env, exports, "ioClose", io_close);
  gst_export(env, exports, "ioSetOffload", io_set_offload);
  gst_export(env, exports, "readStart", read_start);
  gst_export(env, exports, "readStop", read_stop);
  gst_export(env, exports, "write", io_write);
  gst_export(env, exports, "writeBatch", io_write_batch);
  gst_export(env, exports, "writeSlots", io_write_slots);
  gst_export(env, exports, "sendTo", io_send_to);
  gst_export(env, exports, "sendSlots", io_send_slots);
}
