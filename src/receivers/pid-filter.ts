// The pids filter of the capture objects (bpf/include/filters.h), as rodata and map entries:
// the tcp and unix receivers' `pids`.

/** Only these processes (tgid); none: every process. */
export function pidFilter(pidList: number[]): { rodata: Record<string, number>; mapEntries: Record<string, Array<[Buffer, Buffer]>> } {
  const pids = [...new Set(pidList)].map((p): [Buffer, Buffer] => {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(p);
    return [k, Buffer.from([1])];
  });
  return { rodata: { filter_pids_on: pids.length ? 1 : 0 }, mapEntries: { filter_pids: pids } };
}
