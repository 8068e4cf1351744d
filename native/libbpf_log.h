// libbpf prints diagnostics (verifier logs, missing BTF, attach errors) through a callback.
// We keep the recent lines so a failed load can report *why*, instead of spraying stderr.
#pragma once
#include <string>

namespace tcpsniff {
void InstallLibbpfLog();
// Returns and clears what libbpf printed since the last call (at most the last ~16 KiB).
std::string TakeLibbpfLog();
}  // namespace tcpsniff
