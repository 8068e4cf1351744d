#include "libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace tcpsniff {
namespace {
std::mutex mu;
std::string buffer;
constexpr size_t kKeepBytes = 16 * 1024;

int OnLibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), fmt, args);
  if (n <= 0) return 0;
  std::lock_guard<std::mutex> lock(mu);
  buffer.append(line, n < (int)sizeof(line) ? n : sizeof(line) - 1);
  if (buffer.size() > 2 * kKeepBytes) buffer.erase(0, buffer.size() - kKeepBytes);
  return 0;
}
}  // namespace

void InstallLibbpfLog() { libbpf_set_print(OnLibbpfPrint); }

std::string TakeLibbpfLog() {
  std::lock_guard<std::mutex> lock(mu);
  std::string out;
  out.swap(buffer);
  if (out.size() > kKeepBytes) out.erase(0, out.size() - kKeepBytes);
  return out;
}
}  // namespace tcpsniff
