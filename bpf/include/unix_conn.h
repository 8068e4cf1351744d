/* unix-domain stream sockets, shared by the unix receiver's backends: endpoints (inode
 * numbers), the REC_CONN record with the socket's path, and the end of a connection, which is
 * the socket's release: unix_release in the kernel backends; in the syscall backend the last
 * close(2) of its file, the end of a call left holding the last reference, or a process exit. */
#ifndef TCPSNIFF_UNIX_CONN_H
#define TCPSNIFF_UNIX_CONN_H

#define AF_UNIX_ 1

static __always_inline int is_unix_stream(struct sock *sk)
{
	return sk && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX_ &&
	       BPF_CORE_READ(sk, sk_type) == SOCK_STREAM_;
}

/* No ports or IPs: the inode numbers of both ends (as `ss -x` shows them) identify them. */
static __always_inline void capture_endpoints(struct sock *sk, struct rec_hdr *h)
{
	h->family = AF_UNIX_;
	h->lport = 0;
	h->rport = 0;
	__builtin_memset(h->laddr, 0, sizeof(h->laddr));
	__builtin_memset(h->raddr, 0, sizeof(h->raddr));
	__u64 own = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
	__u64 other = peer ? BPF_CORE_READ(peer, sk_socket, file, f_inode, i_ino) : 0;
	__builtin_memcpy(h->laddr, &own, sizeof(own));
	__builtin_memcpy(h->raddr, &other, sizeof(other));
}

/* A unix socket can be freed without the close(2) this receiver sees (process exit): its inode
 * number tells a new socket at the same address from the old one. */
static __always_inline __u64 capture_ident(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

/* Path filters are applied in user space, which mutes what it does not want (muted_conns). */
static __always_inline int capture_allowed(const struct rec_hdr *h)
{
	return 1;
}

struct conn_record {
	struct rec_hdr h;
	struct conn_payload p;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conn_record);
} conn_scratch SEC(".maps");

/* Emits the REC_CONN record with the socket's path. */
static __always_inline void capture_announce(struct sock *sk, const struct rec_hdr *h)
{
	__u32 zero = 0;
	struct conn_record *r = bpf_map_lookup_elem(&conn_scratch, &zero);
	if (!r)
		return;
	__builtin_memcpy(&r->h, h, sizeof(r->h));
	r->h.kind = REC_CONN;
	r->h.offset = 0;
	r->h.lost_after = 0;
	struct unix_address *addr = BPF_CORE_READ((struct unix_sock *)sk, addr);
	r->p.from_peer = 0;
	if (!addr) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		addr = peer ? BPF_CORE_READ((struct unix_sock *)peer, addr) : 0;
		r->p.from_peer = 1;
	}
	__u32 len = 0;
	if (addr) {
		int alen = BPF_CORE_READ(addr, len); /* includes sun_family (2 bytes) */
		len = alen > 2 ? alen - 2 : 0;
		asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];" : [n] "+r"(len) : [max] "i"(UNIX_PATH_BYTES));
		if (len && bpf_probe_read_kernel(r->p.path, len, &addr->name[0].sun_path))
			len = 0;
	}
	r->h.len = 1 + len;
	if (bpf_ringbuf_output(&events, r, sizeof(r->h) + 1 + len, wakeup_flags(sizeof(r->h) + 1 + len)))
		count(CNT_RINGBUF_FULL_RECORDS, 1);
}

/* Ends the connection of socket sk, if one was captured: its close record, and its entry goes. */
static __always_inline void unix_conn_end(struct sock *sk, __u8 backend)
{
	__u64 key = (__u64)sk;
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	if (!cs)
		return;
	emit_close(cs, backend);
	if (cs->capture) /* a mute user space asked for that it never looked at */
		bpf_map_delete_elem(&muted_conns, &cs->conn_id);
	bpf_map_delete_elem(&conns, &key);
}

/* ---- the syscall backend's view of a socket's release (the kernel backends hook unix_release) ----
 * A unix socket is released with the last reference to its open file, and only then can no call
 * carry bytes on it any more: closing one descriptor of several (dup, a forked child's copy) or
 * while another thread is still in a call on it (which holds a reference) is not its end. */

struct file___f_count { /* before 6.13 */
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* References to an open file: f_count, or from 6.13 f_ref, which holds the count minus one and a
 * negative value once released. */
static __always_inline long file_refs(struct file *f)
{
	if (bpf_core_field_exists(f->f_ref)) {
		long r = BPF_CORE_READ(f, f_ref.refcnt.counter);
		return r < 0 ? 0 : r + 1;
	}
	return BPF_CORE_READ((struct file___f_count *)f, f_count.counter);
}

/* The captured unix stream socket behind an open file, else 0. */
static __always_inline struct sock *unix_sock_of_file(struct file *f)
{
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) != S_IFSOCK_)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = so ? BPF_CORE_READ(so, sk) : 0;
	return is_unix_stream(sk) ? sk : 0;
}

/* close(2) of the last reference to a socket's file ends its connection. */
static __always_inline int unix_close_fd(int fd, __u8 backend)
{
	if (!pid_allowed(bpf_get_current_pid_tgid() >> 32))
		return 0;
	struct file *f = file_of_fd(fd);
	struct sock *sk = unix_sock_of_file(f);
	if (sk && file_refs(f) == 1)
		unix_conn_end(sk, backend);
	return 0;
}

/* After a captured call: when a close(2) on another thread left this call the last reference,
 * the file was released as the call returned (its final put is pending, so it is still readable). */
static __always_inline void unix_call_done(struct sock *sk)
{
	struct file *f = BPF_CORE_READ(sk, sk_socket, file);
	if (f && file_refs(f) == 0)
		unix_conn_end(sk, BACKEND_SYSCALLS);
}

/* A process exit closes every descriptor without close(2): at the exit of the last thread
 * sharing the descriptor table, the sockets it holds the last reference to end. Only processes
 * with a captured connection (procs_reported) are looked at. */
#define EXIT_SCAN_FDS_NO_LOOP_HELPER 64 /* the legacy build: only the first descriptors */
#define EXIT_SCAN_FDS (1 << 16)

struct exit_scan {
	struct file **fds;
	__u32 max_fds;
};

static long exit_scan_step(__u32 i, void *ctx)
{
	struct exit_scan *scan = ctx;
	if (i >= scan->max_fds)
		return 1;
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &scan->fds[i]);
	struct sock *sk = unix_sock_of_file(f);
	if (sk && file_refs(f) == 1)
		unix_conn_end(sk, BACKEND_SYSCALLS);
	return 0;
}

static __always_inline int unix_process_exit(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_lookup_elem(&procs_reported, &tgid))
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, files, count.counter) != 1)
		return 0; /* other threads still use the descriptors */
	struct exit_scan scan = { .fds = BPF_CORE_READ(task, files, fdt, fd),
		                  .max_fds = BPF_CORE_READ(task, files, fdt, max_fds) };
#ifdef CAPTURE_NO_BPF_LOOP
	for (__u32 i = 0; i < EXIT_SCAN_FDS_NO_LOOP_HELPER; i++)
		if (exit_scan_step(i, &scan))
			break;
#else
	bpf_loop(EXIT_SCAN_FDS, exit_scan_step, &scan, 0);
#endif
	return 0;
}

#endif
