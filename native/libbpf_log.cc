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
  // One call may carry a whole verifier log, whose end says why a program was rejected.
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  vsnprintf(&text[0], text.size(), fmt, args);
  text.resize(static_cast<size_t>(n));
  std::lock_guard<std::mutex> lock(mu);
  buffer.append(text);
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
