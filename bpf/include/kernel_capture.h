/* TCP-layer / socket-layer backends (fentry/fexit, kprobe/kretprobe on a protocol's send and
 * receive functions): what a kernel iov_iter describes, stashed at entry, captured at exit
 * through capture.h. Kernel differences of iov_iter are handled here, once:
 *   - ITER_UBUF (6.0+) vs ITER_IOVEC, and iov_iter.iov renamed __iov in 6.4;
 *   - 5.10's iov_iter has `unsigned int type` (ITER_IOVEC = 4, plus the direction bit);
 *   - the iovec array of a kernel iterator is a kernel copy (its bases are user memory). */
#ifndef TCPSNIFF_KERNEL_CAPTURE_H
#define TCPSNIFF_KERNEL_CAPTURE_H

struct iov_iter___v510 {
	unsigned int type;
} __attribute__((preserve_access_index));

struct iov_iter___before_6_4 {
	const struct iovec *iov;
} __attribute__((preserve_access_index));


/* User memory (ITER_UBUF, ITER_IOVEC) is captured; kernel memory (kvec, bvec: sendfile,
 * splice, in-kernel users) is an exact gap, counted. */
static __always_inline void iter_describe(struct iov_iter *it, struct stash *st)
{
	int ubuf = 0, iovec = 0;
	st->skip = BPF_CORE_READ(it, iov_offset);
	if (bpf_core_field_exists(it->iter_type)) {
		__u8 t = BPF_CORE_READ(it, iter_type);
		if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF) &&
		    t == bpf_core_enum_value(enum iter_type, ITER_UBUF))
			ubuf = 1;
		else if (t == bpf_core_enum_value(enum iter_type, ITER_IOVEC))
			iovec = 1;
	} else {
		unsigned int t = BPF_CORE_READ((struct iov_iter___v510 *)it, type);
		iovec = (t & ~1u) == 4;
	}
	if (ubuf) {
		st->kind = BUF_PLAIN;
		st->ptr = (__u64)BPF_CORE_READ(it, ubuf);
	} else if (iovec) {
		st->kind = BUF_KIOVEC;
		st->cnt = BPF_CORE_READ(it, nr_segs);
		if (bpf_core_field_exists(it->__iov))
			st->ptr = (__u64)BPF_CORE_READ(it, __iov);
		else
			st->ptr = (__u64)BPF_CORE_READ((struct iov_iter___before_6_4 *)it, iov);
	} else {
		st->kind = BUF_NONE;
	}
}

/* At a send/receive function's entry: stash what its iterator describes (on receive the kernel
 * advances the iterator while copying, so it must be read before). The caller has checked that
 * sk is a socket it captures. */
static __always_inline int k_enter(struct sock *sk, struct msghdr *msg, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!pid_allowed(id >> 32) || !sk)
		return 0;
	struct stash st = { .sk = (__u64)sk, .dir = dir };
	iter_describe(__builtin_preserve_access_index(&msg->msg_iter), &st);
	stash_put(&st);
	return 0;
}

/* At its exit: capture the `ret` bytes it moved. */
static __always_inline int k_exit(long ret, __u8 backend)
{
	struct stash st;
	if (!stash_take(&st) || ret <= 0)
		return 0;
	return capture_transfer((struct sock *)st.sk, st.dir, st.kind, st.ptr, st.cnt, st.skip, ret, backend);
}

#endif
