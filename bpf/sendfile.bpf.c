// SPDX-License-Identifier: GPL-2.0
/* sendfile receiver: which file a sendfile(2) into a captured TCP connection sends from.
 *
 * The tcp receiver reports the bytes a sendfile moves as an exact kernel-side gap, whatever its
 * backend sees of them (the sendfile syscall, tcp_sendpage up to 6.4, ITER_BVEC sends from 6.5).
 * This object is loaded with the tcp receiver's connection table and ring buffer (maps reused
 * from its object), so what it emits joins that connection in stream order: at the sendfile's
 * entry, before any of its bytes, a REC_FILE record (the connection, the stream offset the
 * sendfile starts at, the bytes it may send, the file's path and offset); at its exit, only when
 * it sent less than it asked for, REC_FILE_SENT with what it did send, so no later kernel-side
 * gap is taken for its bytes. User space (src/receivers/sendfile) fills the gaps from the file.
 * It only reads the connection table: the tcp receiver keeps the offsets. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "record.h"
#include "counters.h"
#include "conn.h"
#include "filters.h"
#include "ring.h"
#include "fds.h"
#include "file_record.h"

char LICENSE[] SEC("license") = "GPL";

/* Linux moves at most this much per read/write-style call (MAX_RW_COUNT): fits lost_after. */
#define MAX_RW_COUNT_ 0x7ffff000

/* A sendfile in progress on a thread, from its entry to its exit. */
struct sendfile_start {
	__u64 conn_id;
	__u64 offset; /* stream offset of its first byte */
	__u32 count;  /* bytes it may send */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a thread killed inside sendfile leaves its entry behind */
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct sendfile_start);
} sendfiles SEC(".maps");

/* The tcp receiver's entry for the socket behind fd, when it captures that connection. */
static __always_inline struct conn_state *captured_conn(int fd)
{
	struct socket *so = socket_of_fd(fd);
	__u64 sk = so ? (__u64)BPF_CORE_READ(so, sk) : 0;
	struct conn_state *cs = sk ? bpf_map_lookup_elem(&conns, &sk) : 0;
	return cs && cs->conn_id && cs->capture ? cs : 0;
}

/* sendfile(out_fd, in_fd, loff_t *offset, count) */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!pid_allowed(id >> 32))
		return 0;
	struct conn_state *cs = captured_conn(ctx->args[0]);
	if (!cs)
		return 0;
	__u64 count = ctx->args[3] < MAX_RW_COUNT_ ? ctx->args[3] : MAX_RW_COUNT_;
	struct sendfile_start st = { .conn_id = cs->conn_id, .offset = cs->offset[DIR_EGRESS], .count = count };
	struct rec_hdr h = {
		.version = REC_VERSION,
		.direction = DIR_EGRESS,
		.role = cs->role,
		.family = cs->ep.family,
		.pid = id >> 32,
		.tid = (__u32)id,
		.conn_id = cs->conn_id,
		.ts_ns = bpf_ktime_get_ns(),
		.lport = cs->ep.lport,
		.rport = cs->ep.rport,
	};
	__builtin_memcpy(h.laddr, cs->ep.laddr, sizeof(h.laddr));
	__builtin_memcpy(h.raddr, cs->ep.raddr, sizeof(h.raddr));
	bpf_get_current_comm(h.comm, sizeof(h.comm));
	__u32 tid = (__u32)id;
	bpf_map_update_elem(&sendfiles, &tid, &st, BPF_ANY);
	emit_file(&h, st.offset, count, ctx->args[1], sendfile_offset(ctx->args[1], ctx->args[2]));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendfile64")
int exit_sendfile64(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct sendfile_start *st = bpf_map_lookup_elem(&sendfiles, &tid);
	if (!st)
		return 0;
	long ret = ctx->ret;
	if (ret != st->count) {
		struct rec_hdr h = {
			.version = REC_VERSION,
			.kind = REC_FILE_SENT,
			.direction = DIR_EGRESS,
			.conn_id = st->conn_id,
			.ts_ns = bpf_ktime_get_ns(),
			.offset = st->offset,
			.lost_after = ret > 0 ? ret : 0,
		};
		if (bpf_ringbuf_output(&events, &h, sizeof(h), wakeup_flags(sizeof(h))))
			count(CNT_RINGBUF_FULL_RECORDS, 1);
	}
	bpf_map_delete_elem(&sendfiles, &tid);
	return 0;
}
