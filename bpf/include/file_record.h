/* REC_FILE: which file a sendfile(2) sends from, with the file's path walked up through
 * dentries and across mounts (what d_path does). Needs ring.h, fds.h and counters.h. */
#ifndef TCPSNIFF_FILE_RECORD_H
#define TCPSNIFF_FILE_RECORD_H

/* Where in in_fd's file a sendfile starts: *offp, or the file's position when offp is NULL. */
static __always_inline __s64 sendfile_offset(int in_fd, __u64 offp)
{
	__s64 off = 0;
	if (offp) {
		bpf_probe_read_user(&off, sizeof(off), (void *)offp);
	} else {
		struct file *f = file_of_fd(in_fd);
		if (f)
			off = BPF_CORE_READ(f, f_pos);
	}
	return off;
}

/* The walk's state lives in the map value, not on the stack, for the same reason as the copy
 * cursor (capture.h): values the verifier does not track make every iteration look alike to it. */
struct file_record {
	__u64 walk_dentry;
	__u64 walk_mount;
	__u64 walk_root; /* the root dentry of walk_mount, read once per mount */
	struct rec_hdr h;
	struct file_payload p;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_record);
} file_scratch SEC(".maps");

/* d's parent, and its name in *name: one read where d_name follows d_parent, as in every kernel
 * so far (the walk's cost is its reads). */
static __always_inline struct dentry *dentry_up(struct dentry *d, const unsigned char **name)
{
	struct {
		struct dentry *parent;
		struct qstr name;
	} up = {};
	if (bpf_core_field_offset(struct dentry, d_name) ==
	    bpf_core_field_offset(struct dentry, d_parent) + sizeof(void *)) {
		bpf_core_read(&up, sizeof(up), &d->d_parent);
	} else {
		up.parent = BPF_CORE_READ(d, d_parent);
		up.name.name = BPF_CORE_READ(d, d_name.name);
	}
	*name = up.name.name;
	return up.parent;
}

/* Emits REC_FILE for up to `len` bytes sent from in_fd at file_offset, at stream offset `at`. The path
 * is walked up through dentries and across mounts (what d_path does), at most FILE_COMPONENTS. */
static __always_inline void emit_file(const struct rec_hdr *tmpl, __u64 at, __u64 len, int in_fd, __u64 file_offset)
{
	__u32 zero = 0;
	struct file_record *r = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!r)
		return;
	__builtin_memcpy(&r->h, tmpl, sizeof(r->h));
	r->h.kind = REC_FILE;
	r->h.offset = at;
	r->h.lost_after = len;
	r->p.file_offset = file_offset;
	r->p.in_fd = in_fd;
	r->p.components = 0;
	struct file *f = file_of_fd(in_fd);
	if (f) {
		struct path fp = {};
		bpf_core_read(&fp, sizeof(fp), &f->f_path);
		struct mount *m0 = (struct mount *)((void *)fp.mnt - bpf_core_field_offset(struct mount, mnt));
		r->walk_dentry = (__u64)fp.dentry;
		r->walk_mount = (__u64)m0;
		r->walk_root = (__u64)BPF_CORE_READ(m0, mnt.mnt_root);
		for (int i = 0; i < FILE_COMPONENTS + 8; i++) {
			struct dentry *d = (struct dentry *)r->walk_dentry;
			struct mount *m = (struct mount *)r->walk_mount;
			__u32 n = r->p.components;
			if (n >= FILE_COMPONENTS)
				break;
			if ((__u64)d == r->walk_root) { /* a mount's root: continue where it is mounted */
				struct mount *parent = BPF_CORE_READ(m, mnt_parent);
				if (parent == m)
					break; /* the namespace's root */
				r->walk_dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
				r->walk_mount = (__u64)parent;
				r->walk_root = (__u64)BPF_CORE_READ(parent, mnt.mnt_root);
				continue;
			}
			const unsigned char *name;
			struct dentry *up = dentry_up(d, &name);
			if (up == d)
				break;
			/* Mask in asm: clang drops a C mask it can prove redundant, and the verifier then
			 * sees an unbounded index reloaded from the stack (6.1). */
			__u64 slot = n;
			asm volatile("%[s] &= %[m]" : [s] "+r"(slot) : [m] "i"(FILE_COMPONENTS - 1));
			if (bpf_probe_read_kernel_str(r->p.comp[slot], FILE_COMPONENT_BYTES, name) < 0)
				break;
			r->p.components = n + 1;
			r->walk_dentry = (__u64)up;
		}
	}
	/* Only the slots set: a few hundred bytes to copy instead of 2 KiB. */
	__u32 size = __builtin_offsetof(struct file_payload, comp) + r->p.components * FILE_COMPONENT_BYTES;
	/* Bound the size itself: a bound on the count is lost in the multiplication (a shift, which
	 * the verifier tracks by known bits only). */
	asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];"
	             : [n] "+r"(size)
	             : [max] "i"(sizeof(struct file_payload)));
	r->h.len = size;
	if (bpf_ringbuf_output(&events, &r->h, sizeof(r->h) + size, wakeup_flags(sizeof(r->h) + size)))
		count(CNT_RINGBUF_FULL_RECORDS, 1);
}

#endif
