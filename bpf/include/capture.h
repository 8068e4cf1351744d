/* Capturing socket payloads into the ring buffer, shared by every backend (syscall
 * tracepoints, fentry/fexit, kprobes): records in chunks of up to REC_CHUNK_BYTES, the process
 * and connection descriptions at first sight, lost-byte records, stream offsets.
 *
 * The including program defines, after including this file:
 *   void capture_endpoints(struct sock *, struct rec_hdr *)   family, ports, addresses
 *   __u64 capture_ident(struct sock *)   tells sockets apart that reuse one address (0: no need)
 *   int capture_allowed(const struct rec_hdr *)    filters, decided at a connection's first sight
 *   void capture_announce(struct sock *, const struct rec_hdr *)  extra records at first sight
 * and, with CAPTURE_TLS defined (TCP), int tls_claims(...) of tls_capture.h. */
#ifndef TCPSNIFF_CAPTURE_H
#define TCPSNIFF_CAPTURE_H

#include "ring.h"
#include "fds.h"

#define SOCK_STREAM_ 1
#define MSG_PEEK_ 2
#define MAX_MMSG 32
/* CAPTURE_NO_BPF_LOOP marks the legacy build, for kernels before 5.17 (bpf/Makefile): no bpf_loop,
 * and none of the newer helpers either (task-local storage, the BTF task pointer: 5.11+). */
#define MAX_STEPS_NO_LOOP_HELPER 48 /* the legacy variant (kernels without bpf_loop): ~700 KiB per syscall */
#define MAX_STEPS 256               /* with bpf_loop: 1 MiB in 16 KiB chunks plus segment loads */

const volatile __u32 max_message_bytes = 1 << 20;

enum buf_kind {
	BUF_PLAIN = 0, /* (buf, len): read, write, recvfrom, sendto */
	BUF_IOVEC,     /* (iov, iovcnt): readv, writev */
	BUF_MSG,       /* user_msghdr: recvmsg, sendmsg */
	BUF_MMSG,      /* mmsghdr array: recvmmsg, sendmmsg */
	BUF_NONE,      /* bytes moved kernel-side (sendfile, splice): an exact gap, counted, not copied */
	BUF_KIOVEC,    /* (iov, nr_segs) with the iovec array in kernel memory: a kernel iov_iter */
};


struct proc_record {
	struct rec_hdr h;
	struct proc_payload p;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_record);
} proc_scratch SEC(".maps");

/* Processes already described to user space: tgid → start time (a reused pid differs). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} procs_reported SEC(".maps");

/* Connections user space decided not to follow (by conn_id); consumed at the next syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} muted_conns SEC(".maps");

/* Bumped by user space after each entry it adds to muted_conns (src/receivers/probe-session.ts):
 * a connection looks there only when something was added since its last look, not per record. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} mute_generation SEC(".maps");


/* What a send or receive call is moving, stashed per thread at its entry and captured at its
 * exit (enum buf_kind; skip: bytes into the first segment, for kernel iterators). */
struct stash {
	__u64 sk;
	__u64 ptr;
	__u64 cnt;
	__u64 skip;
	__u8 kind;
	__u8 dir;
	__u8 set; /* a call's entry stashed it and its exit has not taken it yet */
	__u8 pad[5];
};

#ifdef CAPTURE_NO_BPF_LOOP
/* Kernels before 5.17 (the legacy build): a hash map keyed by tid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tid */
	__type(value, struct stash);
} stashes SEC(".maps");

static __always_inline void stash_put(struct stash *st)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	st->set = 1;
	if (bpf_map_update_elem(&stashes, &tid, st, BPF_ANY))
		count(CNT_STASH_FULL, 1);
}

/* Takes this thread's stash into *st: 0 when there is none. */
static __always_inline int stash_take(struct stash *st)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct stash *p = bpf_map_lookup_elem(&stashes, &tid);
	if (!p)
		return 0;
	*st = *p;
	bpf_map_delete_elem(&stashes, &tid);
	return 1;
}
#else
/* Task-local storage: a slot in the thread itself, found without hashing or locking and never
 * deleted (only marked empty), where a hash map costs an insert, a lookup and a delete per call. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stash);
} stashes SEC(".maps");

static __always_inline void stash_put(struct stash *st)
{
	struct stash *p = bpf_task_storage_get(&stashes, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p) {
		count(CNT_STASH_FULL, 1);
		return;
	}
	*p = *st;
	p->set = 1;
}

static __always_inline int stash_take(struct stash *st)
{
	struct stash *p = bpf_task_storage_get(&stashes, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->set)
		return 0;
	*st = *p;
	p->set = 0;
	return 1;
}
#endif

/* Provided by the including program (see the top of this file). */
static __always_inline void capture_endpoints(struct sock *sk, struct rec_hdr *h);
static __always_inline __u64 capture_ident(struct sock *sk);
static __always_inline int capture_allowed(const struct rec_hdr *h);
static __always_inline void capture_announce(struct sock *sk, const struct rec_hdr *h);

/* ---- copying the transferred bytes: one step per chunk or per segment load ---- */

struct cursor {
	__u64 msgs;     /* user pointer: mmsghdr array (BUF_MMSG) */
	__u64 iov;      /* user pointer: iovec array of the current message */
	__u64 base;     /* user pointer: next byte of the current segment */
	__u64 seg_left; /* bytes left in the current segment */
	__u64 msg_left; /* bytes the syscall transferred that are left in the current message */
	__u64 budget;   /* bytes we may still capture (max_message_bytes) */
	__u64 captured; /* bytes captured so far (a prefix of the transfer) */
	__u64 offset;   /* stream offset of the next byte */
	__u64 skip;     /* bytes to skip at the start of the first iovec (a kernel iterator's offset) */
	__u32 iov_idx, iov_cnt, msg_idx, msg_cnt;
	__u8 kind;
	__u8 failed;
};

/* Per-CPU working area. The cursor lives here rather than on the stack on purpose: the
 * verifier does not track values inside map memory, so every iteration of the copy loop
 * looks the same to it and verification converges at once instead of exploring each
 * iteration (which exceeds the 1M-instruction limit). */
struct scratch {
	struct cursor c;
	struct rec_hdr h;
	__u8 data[REC_CHUNK_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_buf SEC(".maps");

static __always_inline void emit(struct scratch *s, __u32 len)
{
	/* The verifier must see the bound on the register actually passed (NATIVE-NOTES #3). */
	asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];" : [n] "+r"(len) : [max] "i"(REC_CHUNK_BYTES));
	s->h.len = len;
	if (bpf_ringbuf_output(&events, &s->h, sizeof(s->h) + len, wakeup_flags(sizeof(s->h) + len))) {
		count(CNT_RINGBUF_FULL_RECORDS, 1);
		count(CNT_RINGBUF_FULL_BYTES, len);
	}
}

static long copy_step(__u32 i, void *unused)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!s)
		return 1;
	struct cursor *c = &s->c;

	if (c->budget == 0)
		return 1;
	if (c->msg_left == 0) { /* next message of an mmsghdr array */
		if (c->kind != BUF_MMSG || c->msg_idx >= c->msg_cnt || c->msg_idx >= MAX_MMSG)
			return 1;
		struct mmsghdr m;
		if (bpf_probe_read_user(&m, sizeof(m), (void *)(c->msgs + (__u64)c->msg_idx * sizeof(m)))) {
			c->failed = 1;
			return 1;
		}
		c->msg_idx++;
		c->iov = (__u64)m.msg_hdr.msg_iov;
		c->iov_cnt = m.msg_hdr.msg_iovlen;
		c->iov_idx = 0;
		c->seg_left = 0;
		c->msg_left = m.msg_len;
		return 0;
	}
	if (c->seg_left == 0) { /* next iovec */
		if (c->iov_idx >= c->iov_cnt)
			return 1;
		struct iovec v;
		void *at = (void *)(c->iov + (__u64)c->iov_idx * sizeof(v));
		/* A kernel iterator's iovec array was copied into kernel memory; its bases are user memory. */
		if (c->kind == BUF_KIOVEC ? bpf_probe_read_kernel(&v, sizeof(v), at)
		                          : bpf_probe_read_user(&v, sizeof(v), at)) {
			c->failed = 1;
			return 1;
		}
		c->iov_idx++;
		c->base = (__u64)v.iov_base;
		__u64 len = v.iov_len;
		if (c->skip) { /* only ever set for the first segment */
			__u64 sk = c->skip < len ? c->skip : len;
			c->base += sk;
			len -= sk;
			c->skip = 0;
		}
		c->seg_left = len < c->msg_left ? len : c->msg_left;
		return 0;
	}

	__u64 n = c->seg_left;
	if (n > c->budget)
		n = c->budget;
	if (n > REC_CHUNK_BYTES)
		n = REC_CHUNK_BYTES;
	__u32 len = n;
	asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];" : [n] "+r"(len) : [max] "i"(REC_CHUNK_BYTES));
	if (bpf_probe_read_user(s->data, len, (void *)c->base)) {
		c->failed = 1;
		return 1;
	}
	s->h.offset = c->offset;
	s->h.lost_after = 0;
	emit(s, len);
	c->base += len;
	c->seg_left -= len;
	c->msg_left -= len;
	c->budget -= len;
	c->captured += len;
	c->offset += len;
	return 0;
}

/* Total bytes an mmsg call moved: the sum of msg_len over the messages it reports. */
static __always_inline __u64 mmsg_total(__u64 msgs, __u32 cnt)
{
	__u64 total = 0;
	for (__u32 i = 0; i < MAX_MMSG; i++) {
		if (i >= cnt)
			break;
		__u32 len = 0;
		bpf_probe_read_user(&len, sizeof(len),
		                    (void *)(msgs + (__u64)i * sizeof(struct mmsghdr) +
		                             __builtin_offsetof(struct mmsghdr, msg_len)));
		total += len;
	}
	return total;
}

/* Emits a REC_PROC record for the current process unless already done for this incarnation. */
static __always_inline void report_process(const struct rec_hdr *tmpl)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = tmpl->pid, zero = 0;
	__u64 start = BPF_CORE_READ(task, group_leader, start_time);
	__u64 *seen = bpf_map_lookup_elem(&procs_reported, &tgid);
	if (seen && *seen == start)
		return;
	bpf_map_update_elem(&procs_reported, &tgid, &start, BPF_ANY);
	struct proc_record *r = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!r)
		return;
	__builtin_memcpy(&r->h, tmpl, sizeof(r->h));
	r->h.kind = REC_PROC;
	r->h.offset = start;
	r->h.lost_after = 0;
	r->p.exe[0] = 0;
	const unsigned char *name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	if (name)
		bpf_probe_read_kernel_str(r->p.exe, sizeof(r->p.exe), name);
	__u64 arg_start = BPF_CORE_READ(task, mm, arg_start);
	__u64 arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u32 len = arg_end > arg_start ? arg_end - arg_start : 0;
	asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];" : [n] "+r"(len) : [max] "i"(PROC_ARGS_BYTES));
	if (len && bpf_probe_read_user(r->p.args, len, (void *)arg_start))
		len = 0;
	r->h.len = PROC_EXE_BYTES + len;
	if (bpf_ringbuf_output(&events, r, sizeof(r->h) + PROC_EXE_BYTES + len,
	                       wakeup_flags(sizeof(r->h) + PROC_EXE_BYTES + len)))
		count(CNT_RINGBUF_FULL_RECORDS, 1);
}

/* The connection's endpoints, as read at its first sight. */
static __always_inline void header_endpoints(struct rec_hdr *h, const struct conn_state *cs)
{
	h->family = cs->ep.family;
	h->lport = cs->ep.lport;
	h->rport = cs->ep.rport;
	__builtin_memcpy(h->laddr, cs->ep.laddr, sizeof(h->laddr));
	__builtin_memcpy(h->raddr, cs->ep.raddr, sizeof(h->raddr));
}

/* The connection's identity and role, the time and the current thread's name. */
static __always_inline void header_sender(struct rec_hdr *h, const struct conn_state *cs)
{
	h->ts_ns = bpf_ktime_get_ns();
#ifdef CAPTURE_NO_BPF_LOOP
	bpf_get_current_comm(h->comm, sizeof(h->comm));
#else
	/* Two plain loads through the BTF task pointer instead of the helper's byte-wise copy: the
	 * kernel keeps comm NUL-padded (__set_task_comm), so the raw 16 bytes are what it returns. */
	__builtin_memcpy(h->comm, bpf_get_current_task_btf()->comm, sizeof(h->comm));
#endif
	h->conn_id = cs->conn_id;
	h->role = cs->role;
}

static __always_inline void capture_payload(struct scratch *s, __u64 *stream_offset, __u8 kind, __u64 ptr, __u64 cnt,
                                            __u64 skip, long ret);
#ifdef CAPTURE_TLS
static __always_inline int tls_claims(struct sock *sk, struct conn_state *cs, __u8 dir, __u8 kind, __u64 ptr,
                                      __u64 moved, __u8 backend);
#endif

/* Captures `ret` bytes moved on socket sk in direction dir: the buffer is described by kind,
 * ptr and cnt (see enum buf_kind), skip bytes into the first segment. Emits the records,
 * describes the connection and its process at first sight, and advances the stream offset. */
static __always_inline int capture_transfer(struct sock *sk, __u8 dir, __u8 kind, __u64 ptr, __u64 cnt, __u64 skip,
                                            long ret, __u8 backend)
{
	__u64 id = bpf_get_current_pid_tgid(), skey = (__u64)sk;
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!s)
		return 0;
	struct rec_hdr *h = &s->h;
	h->version = REC_VERSION;
	h->kind = REC_DATA;
	h->direction = dir;
	h->backend = backend;
	h->flags = 0;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->reserved = 0;

	/* Whether the connection is captured is decided first, so connections that are not (filtered,
	 * muted) cost no more than this lookup. The socket is read only at first sight. */
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &skey);
	__u64 ident = capture_ident(sk);
	int first_sight = !cs || cs->conn_id == 0 || cs->ident != ident;
	if (first_sight) {
		/* The role was learned at the handshake, for this same socket only. */
		struct conn_state fresh = { .role = cs && cs->conn_id == 0 && cs->ident == ident ? cs->role
			                                                                         : ROLE_UNKNOWN };
		fresh.ident = ident;
		fresh.conn_id = next_conn_id();
		capture_endpoints(sk, h);
		fresh.capture = capture_allowed(h);
		fresh.ep.family = h->family;
		fresh.ep.lport = h->lport;
		fresh.ep.rport = h->rport;
		__builtin_memcpy(fresh.ep.laddr, h->laddr, sizeof(fresh.ep.laddr));
		__builtin_memcpy(fresh.ep.raddr, h->raddr, sizeof(fresh.ep.raddr));
		if (bpf_map_update_elem(&conns, &skey, &fresh, BPF_ANY)) {
			count(CNT_CONN_TABLE_FULL, 1);
			return 0;
		}
		cs = bpf_map_lookup_elem(&conns, &skey);
		if (!cs)
			return 0;
	}
#ifdef CAPTURE_TLS
	/* Ciphertext of a TLS session: its plaintext comes from the TLS library (tls_capture.h). */
	if (tls_claims(sk, cs, dir, kind, ptr + skip, ret, backend))
		return 0;
#endif
	__u32 *mute_gen = bpf_map_lookup_elem(&mute_generation, &zero);
	if (cs->capture && mute_gen && cs->mute_gen != *mute_gen) {
		cs->mute_gen = *mute_gen;
		if (bpf_map_lookup_elem(&muted_conns, &cs->conn_id)) {
			cs->capture = 0; /* user space decided against this connection */
			cs->muted = 1;
			bpf_map_delete_elem(&muted_conns, &cs->conn_id);
		}
	}
	if (!cs->capture)
		return 0;
	if (!first_sight)
		header_endpoints(h, cs);
	header_sender(h, cs);
	if (first_sight) {
		/* The connection's own description first: user space may decide on it (unix paths). */
		capture_announce(sk, h);
		report_process(h);
	}
	capture_payload(s, &cs->offset[dir & 1], kind, ptr, cnt, skip, ret);
	return 0;
}

/* Copies the `ret` bytes described by kind, ptr and cnt (skip bytes into the first segment) as
 * records after the header prepared in s, from stream offset *stream_offset, which it advances;
 * what it cannot capture is reported as a gap of the exact length. */
static __always_inline void capture_payload(struct scratch *s, __u64 *stream_offset, __u8 kind, __u64 ptr, __u64 cnt,
                                            __u64 skip, long ret)
{
	__u64 start = *stream_offset;
	struct cursor *cp = &s->c;
	__builtin_memset(cp, 0, sizeof(*cp));
	cp->budget = max_message_bytes;
	cp->offset = start;
	cp->kind = kind;
	cp->skip = skip;
	__u64 total = ret;
	switch (kind) {
	case BUF_PLAIN:
		cp->base = ptr + skip;
		cp->seg_left = cp->msg_left = ret;
		break;
	case BUF_IOVEC:
	case BUF_KIOVEC:
		cp->iov = ptr;
		cp->iov_cnt = cnt;
		cp->msg_left = ret;
		break;
	case BUF_MSG: {
		struct user_msghdr m;
		if (bpf_probe_read_user(&m, sizeof(m), (void *)ptr)) {
			cp->failed = 1;
			cp->budget = 0;
			break;
		}
		cp->iov = (__u64)m.msg_iov;
		cp->iov_cnt = m.msg_iovlen;
		cp->msg_left = ret;
		break;
	}
	case BUF_MMSG:
		cp->msgs = ptr;
		cp->msg_cnt = ret; /* number of messages */
		total = mmsg_total(ptr, ret);
		break;
	default: /* BUF_NONE */
		cp->budget = 0;
		count(CNT_UNCAPTURED_BYTES, total);
		break;
	}

#ifdef CAPTURE_NO_BPF_LOOP
	/* Kernels before 5.17 (no bpf_loop; before 5.13 even a callback's address is refused by
	 * the loader): a bounded loop the verifier walks, hence fewer steps. */
	for (__u32 i = 0; i < MAX_STEPS_NO_LOOP_HELPER; i++)
		if (copy_step(i, 0))
			break;
#else
	bpf_loop(MAX_STEPS, copy_step, 0, 0);
#endif

	/* Whatever was not captured (over the cap, copy failure, step limit) is reported as a
	 * zero-length record so the consumer sees exactly where the gap is and how long. Kernel-side
	 * bytes sent from a file (sendfile) are such a gap too: the sendfile receiver says which file
	 * in a REC_FILE record just before (bpf/sendfile.bpf.c), and user space reads it again. */
	if (cp->captured < total) {
		if (kind != BUF_NONE)
			count(cp->failed ? CNT_COPY_FAILED : CNT_TRUNCATED_BYTES,
			      cp->failed ? 1 : total - cp->captured);
		else
			s->h.flags = REC_FLAG_KERNEL_SIDE;
		s->h.offset = start + cp->captured;
		s->h.lost_after = total - cp->captured;
		emit(s, 0);
	}
	/* Not atomic: two threads writing one TCP socket at once is rare, and the kernel's own
	 * ordering of their bytes is unknowable here anyway. */
	*stream_offset = start + total;
}

/* Emits the REC_CLOSE record of a connection user space has seen records of: captured, or muted
 * after its first records (user space forgets it then, as any other). */
static __always_inline void emit_close(const struct conn_state *cs, __u8 backend)
{
	if (!cs->conn_id || !(cs->capture || cs->muted))
		return;
	struct rec_hdr h = {
		.version = REC_VERSION,
		.kind = REC_CLOSE,
		.role = cs->role,
		.backend = backend,
		.conn_id = cs->conn_id,
		.ts_ns = bpf_ktime_get_ns(),
	};
	if (bpf_ringbuf_output(&events, &h, sizeof(h), wakeup_flags(sizeof(h))))
		count(CNT_RINGBUF_FULL_RECORDS, 1);
}

#endif
