// TUN offload (IFF_VNET_HDR): what a TUN with TSO hands us, cut into MTU-sized packets, and
// received packets of one TCP flow glued back into one super-packet for a single TUN write.
//
// Read side (gso_split): the kernel hands over a TCP super-packet (up to 64 KiB) with a
// virtio_net_hdr saying its segment size; each segment gets a copy of the IP and TCP headers
// with its own lengths, IPv4 id and header checksum, TCP sequence number, flags (FIN/PSH only on
// the last, CWR only on the first) and a full TCP checksum. A packet without GSO but with
// NEEDS_CSUM gets its checksum completed.
//
// Write side (gro_plan): consecutive in-order TCP segments of one flow, with the same headers
// but lengths/id/checksums and only ACK (PSH on the last) set, become one super-packet written
// with a virtio_net_hdr (GSO TCPV4/TCPV6, NEEDS_CSUM); everything else is written as it came,
// with an empty header. Packets of one flow keep their order. The payloads are not copied: each
// super-packet is an iovec list over the caller's slots (only the first packet's headers change).
// No TCP checksum of a glued packet is checked here (NEEDS_CSUM makes the kernel trust it): every
// packet reached us authenticated by the tunnel's AEAD, from a peer whose stack made it.
#define _GNU_SOURCE
#include "offload.h"
#include <string.h>

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

// The bulk of gst_csum_add: native-endian 16-bit words summed into 32-bit lanes, a loop the
// compiler vectorizes (16 words per AVX2 add, about 8 times the scalar loop's 8 bytes per add:
// perf had the checksums of TSO segments at 2.5-3 % of the sending ttt). Built for AVX2 and for
// the baseline; the CPU picks at load (target_clones). At most 65536 words per chunk keep the
// lane sum below 2^32 (65536 * 65535).
__attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
static uint64_t sum_words(const uint8_t *data, size_t words) {
  uint64_t total = 0;
  while (words > 0) {
    size_t n = words < 65536 ? words : 65536;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
      uint16_t w;
      memcpy(&w, data + 2 * i, 2);
      acc += w;
    }
    total += acc;
    data += 2 * n;
    words -= n;
  }
  return total;
}

// One's complement sum of big-endian 16-bit words, not folded (RFC 1071). Summing native-endian
// words and swapping at the fold gives the same result (the one's complement sum is byte-order
// independent).
uint64_t gst_csum_add(uint64_t sum, const uint8_t *data, size_t len) {
  sum += sum_words(data, len / 2);
  if (len & 1) {
    uint8_t last[2] = { data[len - 1], 0 };
    uint16_t w;
    memcpy(&w, last, 2);
    sum += w;
  }
  return sum;
}

// Folds a sum of native-endian words to 16 bits, returned in network (big-endian) value order.
uint16_t gst_csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t v = (uint16_t)sum;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = (uint16_t)(v << 8 | v >> 8);
#endif
  return v;
}

// Adds a big-endian 16-bit value (as read with get16) to a native-endian word sum.
static inline uint64_t add_be16(uint64_t sum, uint16_t value) {
  uint8_t b[2] = { (uint8_t)(value >> 8), (uint8_t)value };
  uint16_t w;
  memcpy(&w, b, 2);
  return sum + w;
}

// Pseudo-header sum of a TCP/UDP packet (addresses, protocol, transport length).
static uint64_t pseudo_sum(const uint8_t *ip, int version, uint8_t proto, uint32_t l4_len) {
  uint64_t sum = version == 4 ? gst_csum_add(0, ip + 12, 8) : gst_csum_add(0, ip + 8, 32);
  sum = add_be16(sum, proto);
  sum = add_be16(sum, (uint16_t)(l4_len >> 16));
  return add_be16(sum, (uint16_t)l4_len);
}

static void ipv4_header_checksum(uint8_t *ip, size_t ihl) {
  put16(ip + 10, 0);
  put16(ip + 10, (uint16_t)~gst_csum_fold(gst_csum_add(0, ip, ihl)));
}

void gst_vnet_read(const uint8_t *in, gst_vnet_hdr *h) {
  h->flags = in[0];
  h->gso_type = in[1];
  memcpy(&h->hdr_len, in + 2, 2);
  memcpy(&h->gso_size, in + 4, 2);
  memcpy(&h->csum_start, in + 6, 2);
  memcpy(&h->csum_offset, in + 8, 2);
}

void gst_vnet_write(uint8_t *out, const gst_vnet_hdr *h) {
  out[0] = h->flags;
  out[1] = h->gso_type;
  memcpy(out + 2, &h->hdr_len, 2);
  memcpy(out + 4, &h->gso_size, 2);
  memcpy(out + 6, &h->csum_start, 2);
  memcpy(out + 8, &h->csum_offset, 2);
}

int gst_gso_count(const gst_vnet_hdr *h, const uint8_t *pkt, size_t len) {
  uint8_t type = h->gso_type & (uint8_t)~GST_VNET_GSO_ECN;
  if (type == GST_VNET_GSO_NONE) return len > 0 ? 1 : -1;
  if (type != GST_VNET_GSO_TCPV4 && type != GST_VNET_GSO_TCPV6) return -1;
  if (len < 1 || h->gso_size == 0) return -1;
  int version = pkt[0] >> 4;
  if ((type == GST_VNET_GSO_TCPV4) != (version == 4) || (version != 4 && version != 6)) return -1;
  size_t l4 = h->csum_start;
  if (l4 < (version == 4 ? 20u : 40u) || l4 + 20 > len) return -1;
  size_t hl = l4 + (size_t)(pkt[l4 + 12] >> 4) * 4;
  if (hl < l4 + 20 || hl > len) return -1;
  size_t payload = len - hl;
  if (payload == 0) return 1;
  return (int)((payload + h->gso_size - 1) / h->gso_size);
}

int gst_gso_split(const gst_vnet_hdr *h, const uint8_t *pkt, size_t len, uint32_t first, uint32_t max,
                  uint8_t *out, size_t slot_bytes, uint32_t *lengths) {
  int total = gst_gso_count(h, pkt, len);
  if (total < 0) return -1;
  uint8_t type = h->gso_type & (uint8_t)~GST_VNET_GSO_ECN;
  if (type == GST_VNET_GSO_NONE || (uint32_t)total == 1) {
    if (first > 0 || max == 0) return 0;
    if (len > slot_bytes) return -1;
    memcpy(out, pkt, len);
    lengths[0] = (uint32_t)len;
    if (type != GST_VNET_GSO_NONE) {
      // A super-packet of one segment: a plain packet whose checksum is left to us.
      size_t l4 = h->csum_start;
      int version = out[0] >> 4;
      uint32_t l4_len = (uint32_t)(len - l4);
      if (version == 4) { put16(out + 2, (uint16_t)len); ipv4_header_checksum(out, l4); }
      else put16(out + 4, (uint16_t)(len - 40));
      put16(out + l4 + 16, 0);
      put16(out + l4 + 16, (uint16_t)~gst_csum_fold(gst_csum_add(pseudo_sum(out, version, 6, l4_len), out + l4, l4_len)));
    } else if (h->flags & GST_VNET_F_NEEDS_CSUM) {
      size_t start = h->csum_start, at = start + h->csum_offset;
      if (at + 2 > len || start > len) return -1;
      uint16_t sum = (uint16_t)~gst_csum_fold(gst_csum_add(0, out + start, len - start));
      put16(out + at, sum == 0 ? 0xffff : sum);  // 0 and 0xffff are the same sum; UDP reserves 0
    }
    return 1;
  }
  int version = pkt[0] >> 4;
  size_t l4 = h->csum_start;
  size_t hl = l4 + (size_t)(pkt[l4 + 12] >> 4) * 4;
  size_t payload = len - hl;
  size_t mss = h->gso_size;
  if (hl + mss > slot_bytes) return -1;
  uint16_t id0 = version == 4 ? get16(pkt + 4) : 0;
  uint32_t seq0 = get32(pkt + l4 + 4);
  uint8_t flags0 = pkt[l4 + 13];
  // Each segment's checksums from sums made once here over the super-packet's headers, leaving
  // out the fields that differ per segment (IPv4 length, id and checksum; TCP sequence, flags
  // and checksum), plus those fields and the segment's payload read from the super-packet.
  // Summing the segment's own headers instead re-read bytes just stored one at a time (a stall
  // per load: perf had these sums at 2.5-3 % of the sending ttt).
  uint64_t ip_fixed = version == 4 ? gst_csum_add(gst_csum_add(gst_csum_add(0, pkt, 2), pkt + 6, 4), pkt + 12, l4 - 12) : 0;
  uint64_t pseudo_fixed = add_be16(version == 4 ? gst_csum_add(0, pkt + 12, 8) : gst_csum_add(0, pkt + 8, 32), 6);
  const uint8_t *th = pkt + l4;
  uint64_t tcp_fixed = gst_csum_add(gst_csum_add(gst_csum_add(gst_csum_add(0, th, 4), th + 8, 4), th + 14, 2), th + 18, hl - l4 - 18);
  uint32_t n = 0;
  for (uint32_t k = first; k < (uint32_t)total && n < max; k++, n++) {
    uint8_t *o = out + (size_t)n * slot_bytes;
    size_t at = (size_t)k * mss;
    size_t chunk = payload - at < mss ? payload - at : mss;
    memcpy(o, pkt, hl);
    memcpy(o + hl, pkt + hl + at, chunk);
    size_t seg_len = hl + chunk;
    if (version == 4) {
      uint16_t id = (uint16_t)(id0 + k);
      put16(o + 2, (uint16_t)seg_len);
      put16(o + 4, id);
      put16(o + 10, (uint16_t)~gst_csum_fold(add_be16(add_be16(ip_fixed, (uint16_t)seg_len), id)));
    } else {
      put16(o + 4, (uint16_t)(seg_len - 40));
    }
    uint8_t *tcp = o + l4;
    uint32_t seq = seq0 + (uint32_t)at;
    put32(tcp + 4, seq);
    uint8_t flags = flags0;
    if (k + 1 < (uint32_t)total) flags &= (uint8_t)~(TCP_FIN | TCP_PSH);
    if (k > 0) flags &= (uint8_t)~TCP_CWR;
    tcp[13] = flags;
    uint32_t l4_len = (uint32_t)(seg_len - l4);
    uint64_t sum = gst_csum_add(tcp_fixed + pseudo_fixed, pkt + hl + at, chunk);  // the payload starts at an even offset of the TCP header
    sum = add_be16(add_be16(sum, (uint16_t)(l4_len >> 16)), (uint16_t)l4_len);
    sum = add_be16(add_be16(sum, (uint16_t)(seq >> 16)), (uint16_t)seq);
    sum = add_be16(sum, (uint16_t)(th[12] << 8 | flags));
    put16(tcp + 16, (uint16_t)~gst_csum_fold(sum));
    lengths[n] = (uint32_t)seg_len;
  }
  return (int)n;
}

// ---- coalescing

typedef struct {
  int version;
  size_t l4, hl;       // transport header offset, all headers' length
  uint32_t seq, payload;
  uint8_t flags;
} tcp_view;

// A TCP segment that may be glued: IPv4 without fragmentation or IPv6 without extension
// headers, only ACK (and PSH) set, some payload.
static bool tcp_view_of(const uint8_t *p, size_t len, tcp_view *v) {
  if (len < 20) return false;
  int version = p[0] >> 4;
  if (version == 4) {
    size_t ihl = (size_t)(p[0] & 15) * 4;
    if (ihl < 20 || len < ihl + 20 || p[9] != 6 || get16(p + 2) != len || (get16(p + 6) & 0x3fff) != 0) return false;
    v->l4 = ihl;
  } else if (version == 6) {
    if (len < 60 || p[6] != 6 || (size_t)get16(p + 4) + 40 != len) return false;
    v->l4 = 40;
  } else {
    return false;
  }
  v->version = version;
  v->hl = v->l4 + (size_t)(p[v->l4 + 12] >> 4) * 4;
  if (v->hl < v->l4 + 20 || v->hl >= len) return false;
  v->flags = p[v->l4 + 13];
  if (v->flags & ~(TCP_ACK | TCP_PSH) || !(v->flags & TCP_ACK)) return false;
  v->seq = get32(p + v->l4 + 4);
  v->payload = (uint32_t)(len - v->hl);
  return true;
}

// Same flow and same headers apart from what differs per segment (IPv4 length, id and checksum;
// IPv6 payload length; TCP sequence number, checksum and PSH).
static bool same_headers(const uint8_t *a, const tcp_view *va, const uint8_t *b, const tcp_view *vb) {
  if (va->version != vb->version || va->hl != vb->hl || va->l4 != vb->l4) return false;
  if (va->version == 4) {
    if (a[0] != b[0] || a[1] != b[1] || memcmp(a + 6, b + 6, 4) != 0 || memcmp(a + 12, b + 12, va->l4 - 12) != 0) return false;
  } else {
    if (memcmp(a, b, 4) != 0 || memcmp(a + 6, b + 6, 34) != 0) return false;
  }
  const uint8_t *ta = a + va->l4, *tb = b + vb->l4;
  // ports, ack number, data offset, window, urgent pointer, options
  return memcmp(ta, tb, 4) == 0 && memcmp(ta + 8, tb + 8, 5) == 0 && memcmp(ta + 14, tb + 14, 2) == 0 &&
    memcmp(ta + 18, tb + 18, va->hl - va->l4 - 18) == 0;
}

uint32_t gst_gro_plan(uint8_t *arena, size_t slot_bytes, const uint32_t *lengths, uint32_t count,
                      gst_gro_item *items, uint32_t *next_in_item) {
  uint32_t n = 0;
  // Per item being grown: its head's view, the next expected sequence number, closed or not.
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *p = arena + (size_t)i * slot_bytes;
    size_t len = lengths[i] < slot_bytes ? lengths[i] : slot_bytes;
    next_in_item[i] = UINT32_MAX;
    tcp_view v;
    bool is_tcp = tcp_view_of(p, len, &v);
    if (is_tcp) {
      // The newest item of this flow takes the segment if it continues it.
      for (uint32_t j = n; j-- > 0;) {
        gst_gro_item *it = &items[j];
        if (!it->is_tcp) continue;
        uint8_t *head = arena + (size_t)it->head * slot_bytes;
        tcp_view hv;
        tcp_view_of(head, lengths[it->head] < slot_bytes ? lengths[it->head] : slot_bytes, &hv);
        if (hv.version != v.version || memcmp(head + hv.l4, p + v.l4, 4) != 0 || (hv.version == 4 ? memcmp(head + 12, p + 12, 8) : memcmp(head + 8, p + 8, 32)) != 0) continue;
        // The flow's newest item: append or start a new one, never look further back.
        if (!it->closed && v.seq == it->next_seq && v.payload <= it->gso_size && it->bytes + v.payload <= GST_GRO_MAX_BYTES &&
            it->segments < GST_GRO_MAX_SEGMENTS && same_headers(head, &hv, p, &v)) {
          next_in_item[it->tail] = i;
          it->tail = i;
          it->segments++;
          it->bytes += v.payload;
          it->next_seq = v.seq + v.payload;
          if (v.payload < it->gso_size || (v.flags & TCP_PSH)) it->closed = true;
          if (v.flags & TCP_PSH) it->psh = true;
          is_tcp = false;  // taken
          goto next;
        }
        break;
      }
    }
    {
      gst_gro_item *it = &items[n++];
      it->head = it->tail = i;
      it->segments = 1;
      it->is_tcp = is_tcp;
      it->closed = !is_tcp || (v.flags & TCP_PSH);
      it->psh = false;
      it->gso_size = is_tcp ? v.payload : 0;
      it->bytes = (uint32_t)len;
      it->next_seq = is_tcp ? v.seq + v.payload : 0;
    }
  next:;
  }
  return n;
}

uint32_t gst_gro_finish(uint8_t *arena, size_t slot_bytes, const uint32_t *lengths, const gst_gro_item *it,
                        const uint32_t *next_in_item, uint8_t vnet[GST_VNET_HDR_BYTES], struct iovec *iov) {
  uint8_t *head = arena + (size_t)it->head * slot_bytes;
  size_t head_len = lengths[it->head] < slot_bytes ? lengths[it->head] : slot_bytes;
  gst_vnet_hdr h = { 0 };
  uint32_t k = 0;
  iov[k++] = (struct iovec){ vnet, GST_VNET_HDR_BYTES };
  iov[k++] = (struct iovec){ head, head_len };
  if (it->segments > 1) {
    tcp_view v;
    tcp_view_of(head, head_len, &v);
    uint32_t total = (uint32_t)head_len;
    for (uint32_t i = next_in_item[it->head]; i != UINT32_MAX; i = next_in_item[i]) {
      uint8_t *p = arena + (size_t)i * slot_bytes;
      size_t len = lengths[i] < slot_bytes ? lengths[i] : slot_bytes;
      iov[k++] = (struct iovec){ p + v.hl, len - v.hl };
      total += (uint32_t)(len - v.hl);
    }
    if (it->psh) head[v.l4 + 13] |= TCP_PSH;
    if (v.version == 4) {
      put16(head + 2, (uint16_t)total);
      ipv4_header_checksum(head, v.l4);
    } else {
      put16(head + 4, (uint16_t)(total - 40));
    }
    // CHECKSUM_PARTIAL: the kernel adds header and payload to the pseudo-header sum left here.
    put16(head + v.l4 + 16, gst_csum_fold(pseudo_sum(head, v.version, 6, total - (uint32_t)v.l4)));
    h.flags = GST_VNET_F_NEEDS_CSUM;
    h.gso_type = v.version == 4 ? GST_VNET_GSO_TCPV4 : GST_VNET_GSO_TCPV6;
    h.hdr_len = (uint16_t)v.hl;
    h.gso_size = (uint16_t)it->gso_size;
    h.csum_start = (uint16_t)v.l4;
    h.csum_offset = 16;
  }
  gst_vnet_write(vnet, &h);
  return k;
}

// ---- the same code for JS (tests, and tools that prepare packets without a TUN)

#include "common.h"

// offloadSplit(packet: Uint8Array (vnet header + packet), out: Uint8Array, slotBytes, lengths: Uint32Array,
// first, max) -> segments written into out's slots, or -1 for a malformed packet.
static napi_value offload_split(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *in, *out, *lengths; size_t in_len, out_len, lengths_len; uint32_t slot_bytes, first, max;
  if (argc < 6 || !gst_arg_bytes(env, argv[0], &in, &in_len) || !gst_arg_bytes(env, argv[1], &out, &out_len) ||
      !gst_arg_uint32(env, argv[2], &slot_bytes) || !gst_arg_bytes(env, argv[3], &lengths, &lengths_len) ||
      !gst_arg_uint32(env, argv[4], &first) || !gst_arg_uint32(env, argv[5], &max) || in_len < GST_VNET_HDR_BYTES ||
      slot_bytes == 0 || ((uintptr_t)lengths & 3) || max > lengths_len / 4 || (size_t)max * slot_bytes > out_len) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: offloadSplit(packet, out, slotBytes, lengths, first, max) within the arrays");
  }
  gst_vnet_hdr h;
  gst_vnet_read(in, &h);
  int n = gst_gso_split(&h, in + GST_VNET_HDR_BYTES, in_len - GST_VNET_HDR_BYTES, first, max, out, slot_bytes, (uint32_t *)lengths);
  napi_value result;
  CHECK(napi_create_int32(env, n, &result));
  return result;
}

// offloadCoalesce(arena, slotBytes, lengths: Uint32Array, count, out: Uint8Array, outLengths: Uint32Array)
// -> items; item i (vnet header + packet, as the TUN write would get it) is written back to back
// into out, its length in outLengths[i]. The arena's headers are rewritten as for a write.
static napi_value offload_coalesce(napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *arena, *lengths, *out, *out_lengths; size_t arena_len, lengths_len, out_len, out_lengths_len; uint32_t slot_bytes, count;
  if (argc < 6 || !gst_arg_bytes(env, argv[0], &arena, &arena_len) || !gst_arg_uint32(env, argv[1], &slot_bytes) ||
      !gst_arg_bytes(env, argv[2], &lengths, &lengths_len) || !gst_arg_uint32(env, argv[3], &count) ||
      !gst_arg_bytes(env, argv[4], &out, &out_len) || !gst_arg_bytes(env, argv[5], &out_lengths, &out_lengths_len) ||
      slot_bytes == 0 || count > 256 || count > lengths_len / 4 || count > out_lengths_len / 4 || (size_t)count * slot_bytes > arena_len ||
      ((uintptr_t)lengths & 3) || ((uintptr_t)out_lengths & 3)) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: offloadCoalesce(arena, slotBytes, lengths, count (<= 256), out, outLengths) within the arrays");
  }
  gst_gro_item items[256];
  uint32_t next[256];
  struct iovec iov[2 + GST_GRO_MAX_SEGMENTS];
  uint8_t vnet[GST_VNET_HDR_BYTES];
  uint32_t planned = gst_gro_plan(arena, slot_bytes, (uint32_t *)lengths, count, items, next);
  size_t at = 0;
  for (uint32_t j = 0; j < planned; j++) {
    uint32_t k = gst_gro_finish(arena, slot_bytes, (uint32_t *)lengths, &items[j], next, vnet, iov);
    size_t start = at;
    for (uint32_t i = 0; i < k; i++) {
      if (at + iov[i].iov_len > out_len) return gst_throw(env, "ERR_INVALID_ARG", "offloadCoalesce: out is too small");
      memcpy(out + at, iov[i].iov_base, iov[i].iov_len);
      at += iov[i].iov_len;
    }
    ((uint32_t *)out_lengths)[j] = (uint32_t)(at - start);
  }
  napi_value result;
  CHECK(napi_create_uint32(env, planned, &result));
  return result;
}

void gst_register_offload(napi_env env, napi_value exports) {
  gst_export(env, exports, "offloadSplit", offload_split);
  gst_export(env, exports, "offloadCoalesce", offload_coalesce);
}
