/* The open file, or socket, behind a file descriptor of the current process. */
#ifndef TCPSNIFF_FDS_H
#define TCPSNIFF_FDS_H

#define S_IFMT_ 0170000
#define S_IFSOCK_ 0140000

/* The open file behind fd of the current process, else 0. */
static __always_inline struct file *file_of_fd(int fd)
{
#ifdef CAPTURE_NO_BPF_LOOP
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
#else
	/* Through a BTF task pointer (5.11+) the fields are plain loads, not a helper call each: this
	 * runs at the entry of every hooked syscall of every process. */
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	if (!fdt || fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return 0;
	struct file **fds = fdt->fd;
#endif
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The struct socket behind fd when fd is a socket, else 0. */
static __always_inline struct socket *socket_of_fd(int fd)
{
	struct file *f = file_of_fd(fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) != S_IFSOCK_)
		return 0;
	return BPF_CORE_READ(f, private_data);
}

#endif
