// Limits of the capture objects (bpf/include/capture.h) that every receiver's config checks against.

/** max_message_bytes at most: the copy loop runs at most 256 steps of 16 KiB (fewer on kernels without bpf_loop). */
export const MAX_MESSAGE_BYTES_LIMIT = 2 << 20;
