// A loaded BPF object with its programs attached and a thread draining its ring buffer
// named "events" into batches. Knows nothing about Node: addon.cc wraps it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct bpf_object;
struct bpf_link;
struct ring_buffer;

namespace tcpsniff {

struct ProbeOptions {
  std::string object_path;
  // Values for `const volatile` globals in .rodata, by variable name (written as little-endian
  // integers of the variable's own size).
  std::map<std::string, uint64_t> rodata;
  // max_entries overrides by map name (the ring buffer's size, table sizes).
  std::map<std::string, uint32_t> map_sizes;
  // Entries written into maps after load (filters), by map name.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> map_entries;
  // Maps shared with another loaded object, by map name: that object's map fd. An object whose
  // ring buffer "events" is reused writes into the other object's ring and has no drain of its own.
  std::map<std::string, int> reuse_maps;
  // Programs not to load at all (e.g. hooks for syscalls this kernel lacks).
  std::vector<std::string> skip_programs;
  uint32_t batch_bytes = 4 << 20;  // one delivery to JS holds at most this much
  uint32_t batch_count = 8;        // batches in flight: the bound between the thread and JS
  uint32_t flush_ms = 50;          // a partly filled batch is delivered after this long
};

// A batch of records: each is [u32 length][u32 reserved][record bytes], padded to 8 bytes.
struct Batch {
  // Left untouched until used (not zero-filled): the free list is last-in first-out, so only as
  // many batches as were ever in flight at once become resident.
  std::unique_ptr<uint8_t[]> data;
  size_t capacity = 0;
  size_t len = 0;
  uint32_t records = 0;
};

struct ProbeStats {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t batches = 0;
  uint64_t waits_for_consumer = 0;  // times the thread stopped draining because JS held every batch
  // Left in the ring at close because JS did not hand a batch back within kCloseDrainMs.
  uint64_t unread_at_close_records = 0;
  uint64_t unread_at_close_bytes = 0;
};

class Probe {
 public:
  ~Probe();
  // Opens, configures, loads and attaches. Returns "" on success, else a readable error.
  std::string Open(const ProbeOptions& opts, std::vector<std::string>* attached);
  // Starts the drain thread; `deliver` is called on that thread with a filled batch, and must
  // eventually hand it back through Release().
  void Start(std::function<void(Batch*)> deliver);
  void Release(Batch* b);
  // Asks the thread to drain what is left and stop; `Join` waits for it.
  void RequestStop();
  void Join();
  // Detaches every program and frees the object.
  void Destroy();
  // Writes one entry into a map of the loaded object (e.g. muted_conns). "" or an error.
  std::string UpdateMap(const std::string& map, const std::string& key, const std::string& value);
  // The fd of one of the loaded object's maps (to share it with another object), or -1.
  int MapFd(const std::string& map);
  // False when the object writes into another object's ring buffer (reuse_maps["events"]).
  bool has_ring() const { return rb_ != nullptr; }
  // Attaches a program of a plain "uprobe"/"uretprobe" section to func (plus offset bytes into it)
  // in the ELF file at path, for every process (it stays attached until Destroy). "" or an error.
  std::string AttachUprobe(const std::string& program, const std::string& path, const std::string& func,
                           uint64_t offset = 0);
  // Kernel-side counters: the per-CPU array map "counters", summed over CPUs.
  std::vector<uint64_t> Counters();
  ProbeStats Stats();
  bool running() const { return thread_.joinable(); }

 private:
  static int OnSample(void* ctx, void* data, size_t size);
  void Run();
  Batch* Acquire(int timeout_ms, bool wake_on_stop);
  void CountUnread();

  bpf_object* obj_ = nullptr;
  std::vector<bpf_link*> links_;
  ring_buffer* rb_ = nullptr;
  ProbeOptions opts_;

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::function<void(Batch*)> deliver_;
  std::vector<Batch> pool_;
  std::vector<Batch*> free_;
  std::mutex mu_;
  std::condition_variable cv_;
  Batch* cur_ = nullptr;
  bool cur_full_ = false;
  bool discarding_ = false;  // OnSample only counts: the drain gave up at close
  std::vector<uint64_t> final_counters_;

  std::atomic<uint64_t> records_{0}, bytes_{0}, batches_{0}, waits_{0}, unread_records_{0}, unread_bytes_{0};
};

// Loads and attaches one program of an object on its own, then detaches it: "" when the host
// allows it, else why not ("load: ..." or "attach: ..."). Programs in a plain "uprobe" section
// attach to `uprobe_func` in `uprobe_path`.
std::string TryProgram(const std::string& object_path, const std::string& program, const std::string& uprobe_path,
                       const std::string& uprobe_func);

}  // namespace tcpsniff
