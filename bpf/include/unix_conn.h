/* unix-domain stream sockets, shared by the unix receiver's backends: endpoints (inode
 * numbers), the REC_CONN record with the socket's path, and the end of a connection. */
#ifndef TCPSNIFF_UNIX_CONN_H
#define TCPSNIFF_UNIX_CONN_H

#define AF_UNIX_ 1

static __always_inline int is_unix_stream(struct sock *sk)
{
	return sk && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX_ && BPF_CORE_READ(sk, sk_type) == SOCK_STREAM_;
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

/* close(2) of a captured socket ends its connection (the last descriptor, in practice). */
static __always_inline int unix_close_fd(int fd, __u8 backend)
{
	if (!pid_allowed(bpf_get_current_pid_tgid() >> 32))
		return 0;
	struct socket *so = socket_of_fd(fd);
	struct sock *sk = so ? BPF_CORE_READ(so, sk) : 0;
	if (!is_unix_stream(sk))
		return 0;
	__u64 key = (__u64)sk;
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &key);
	if (!cs)
		return 0;
	emit_close(cs, backend);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

#endif
