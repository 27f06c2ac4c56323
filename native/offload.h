// TUN offload helpers (native/offload.c): virtio_net_hdr, TSO segmentation, GRO-like coalescing.
#ifndef GST_OFFLOAD_H
#define GST_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

// struct virtio_net_hdr (linux/virtio_net.h), in host byte order as TUN uses it by default.
#define GST_VNET_HDR_BYTES 10
#define GST_VNET_F_NEEDS_CSUM 1
#define GST_VNET_GSO_NONE 0
#define GST_VNET_GSO_TCPV4 1
#define GST_VNET_GSO_TCPV6 4
#define GST_VNET_GSO_ECN 0x80

// Our choice: a glued packet stays within an IPv4 total length and 64 segments.
#define GST_GRO_MAX_BYTES 65535
#define GST_GRO_MAX_SEGMENTS 64

typedef struct {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
} gst_vnet_hdr;

typedef struct {
  uint32_t head, tail;    // first and last slot of the item (slots chain through next_in_item)
  uint32_t segments, bytes, gso_size, next_seq;
  bool is_tcp, closed, psh;
} gst_gro_item;

uint64_t gst_csum_add(uint64_t sum, const uint8_t *data, size_t len);
uint16_t gst_csum_fold(uint64_t sum);
void gst_vnet_read(const uint8_t *in, gst_vnet_hdr *h);
void gst_vnet_write(uint8_t *out, const gst_vnet_hdr *h);

// Segments a packet read after its vnet header will make (1 without GSO), or -1 if malformed.
int gst_gso_count(const gst_vnet_hdr *h, const uint8_t *pkt, size_t len);
// Writes segments [first, first + max) of the packet into slots of `out`, lengths to `lengths`;
// returns how many, or -1 if the packet is malformed or a segment does not fit a slot.
int gst_gso_split(const gst_vnet_hdr *h, const uint8_t *pkt, size_t len, uint32_t first, uint32_t max,
                  uint8_t *out, size_t slot_bytes, uint32_t *lengths);
// Groups `count` packets in slots into items (at most count); next_in_item chains the slots of an item.
uint32_t gst_gro_plan(uint8_t *arena, size_t slot_bytes, const uint32_t *lengths, uint32_t count,
                      gst_gro_item *items, uint32_t *next_in_item);
// Fixes the item's head headers and fills vnet and iov (at most 2 + segments entries) for one
// writev; returns the iovec count.
uint32_t gst_gro_finish(uint8_t *arena, size_t slot_bytes, const uint32_t *lengths, const gst_gro_item *it,
                        const uint32_t *next_in_item, uint8_t vnet[GST_VNET_HDR_BYTES], struct iovec *iov);

#endif
