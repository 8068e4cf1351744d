// Kernel timestamps are CLOCK_MONOTONIC (bpf_ktime_get_ns), the same clock as
// process.hrtime. The offset to wall-clock time is measured once, at start, so every span of
// a run uses one consistent conversion (a wall-clock step later does not reorder spans).

export function monotonicToUnixOffsetNs(): bigint {
  // Take the sample with the tightest bracket around Date.now() (it has 1 ms resolution).
  let best = 0n;
  let bestWidth = -1n;
  for (let i = 0; i < 5; i++) {
    const before = process.hrtime.bigint();
    const wall = BigInt(Date.now()) * 1_000_000n;
    const after = process.hrtime.bigint();
    const width = after - before;
    if (bestWidth < 0n || width < bestWidth) {
      bestWidth = width;
      best = wall - (before + after) / 2n;
    }
  }
  return best;
}
