/* In-kernel capture filters, set from the tcp receiver's config before load. Kinds combine
 * with AND, entries of one kind with OR; a kind with no entries does not filter. */
#ifndef TCPSNIFF_FILTERS_H
#define TCPSNIFF_FILTERS_H

const volatile __u32 self_tgid = 0; /* the collector: never captured */
const volatile __u8 filter_pids_on = 0;
const volatile __u8 filter_ports_on = 0;
const volatile __u8 filter_addrs_on = 0;
const volatile __u8 filter_targets_on = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} filter_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} filter_ports SEC(".maps");

/* IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d) so one trie serves both families. */
struct addr_key {
	__u32 prefixlen;
	__u8 addr[16];
};
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct addr_key);
	__type(value, __u8);
} filter_addrs SEC(".maps");

struct target_key {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
	__u16 port;
	__u16 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct target_key);
	__type(value, __u8);
} filter_targets SEC(".maps");

static __always_inline int pid_allowed(__u32 tgid)
{
	if (tgid == self_tgid)
		return 0;
	if (filter_pids_on && !bpf_map_lookup_elem(&filter_pids, &tgid))
		return 0;
	return 1;
}

static __always_inline void to_mapped(__u8 out[16], const __u8 addr[16], __u8 family)
{
	if (family == 2 /* AF_INET */) {
		__builtin_memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		__builtin_memcpy(out + 12, addr, 4);
	} else {
		__builtin_memcpy(out, addr, 16);
	}
}

static __always_inline int addr_matches(const __u8 addr[16], __u8 family)
{
	struct addr_key k = { .prefixlen = 128 };
	to_mapped(k.addr, addr, family);
	return bpf_map_lookup_elem(&filter_addrs, &k) != 0;
}

static __always_inline int target_matches(const __u8 addr[16], __u16 port, __u8 family)
{
	struct target_key k = { .port = port };
	to_mapped(k.addr, addr, family);
	return bpf_map_lookup_elem(&filter_targets, &k) != 0;
}

/* Decided once per connection, at first sight. */
static __always_inline int endpoints_allowed(const struct rec_hdr *h)
{
	if (filter_ports_on && !bpf_map_lookup_elem(&filter_ports, &h->lport) &&
	    !bpf_map_lookup_elem(&filter_ports, &h->rport))
		return 0;
	if (filter_addrs_on && !addr_matches(h->laddr, h->family) && !addr_matches(h->raddr, h->family))
		return 0;
	if (filter_targets_on && !target_matches(h->raddr, h->rport, h->family) &&
	    !target_matches(h->laddr, h->lport, h->family))
		return 0;
	return 1;
}

#endif
