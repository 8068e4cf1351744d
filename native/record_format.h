// The kernel record format, from the one header the BPF programs are built with
// (bpf/include/record.h), for user space: no size or version here is written by hand.
#ifndef TCPSNIFF_RECORD_FORMAT_H
#define TCPSNIFF_RECORD_FORMAT_H

#include <linux/types.h>

#include <cstddef>

#include "record.h"

namespace tcpsniff {

// The largest record the kernel writes: a header and at most REC_CHUNK_BYTES of payload (the
// payload structs of the other kinds are smaller).
static_assert(sizeof(struct proc_payload) <= REC_CHUNK_BYTES, "a REC_PROC payload exceeds REC_CHUNK_BYTES");
static_assert(sizeof(struct file_payload) <= REC_CHUNK_BYTES, "a REC_FILE payload exceeds REC_CHUNK_BYTES");
static_assert(sizeof(struct conn_payload) <= REC_CHUNK_BYTES, "a REC_CONN payload exceeds REC_CHUNK_BYTES");
constexpr size_t kMaxRecordBytes = sizeof(struct rec_hdr) + REC_CHUNK_BYTES;

}  // namespace tcpsniff

#endif
