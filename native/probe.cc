#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "libbpf_log.h"
#include "record_format.h"

namespace tcpsniff {
namespace {

constexpr size_t kRecordPrefix = 8;  // u32 length + u32 reserved, before each record

size_t Align8(size_t n) { return (n + 7) & ~size_t(7); }

std::string Errno(int err) {
  if (err < 0) err = -err;
  return std::string(strerror(err)) + " (errno " + std::to_string(err) + ")";
}

// Writes the values of `const volatile` globals into the object's .rodata before load.
std::string SetRodata(bpf_object* obj, const std::map<std::string, uint64_t>& values) {
  if (values.empty()) return "";
  bpf_map* rodata = nullptr;
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    const char* name = bpf_map__name(m);
    size_t n = strlen(name);
    if (n >= 7 && strcmp(name + n - 7, ".rodata") == 0) rodata = m;
  }
  if (!rodata) return "the BPF object has no .rodata section";
  size_t size = 0;
  // libbpf 1.1 returns const, but this is the mmap-ed image skeletons write into before load.
  auto* data = static_cast<uint8_t*>(const_cast<void*>(bpf_map__initial_value(rodata, &size)));
  const btf* b = bpf_object__btf(obj);
  int sec_id = b ? btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC) : -1;
  if (!data || sec_id < 0) return "the BPF object's .rodata has no BTF description";
  const btf_type* sec = btf__type_by_id(b, sec_id);
  std::map<std::string, bool> found;
  const btf_var_secinfo* vsi = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); i++, vsi++) {
    const btf_type* var = btf__type_by_id(b, vsi->type);
    std::string name = btf__name_by_offset(b, var->name_off);
    auto it = values.find(name);
    if (it == values.end()) continue;
    if (vsi->offset + vsi->size > size || vsi->size > 8) return "bad .rodata layout for " + name;
    uint64_t v = it->second;
    memcpy(data + vsi->offset, &v, vsi->size);  // little-endian: low bytes first
    found[name] = true;
  }
  for (auto& kv : values)
    if (!found.count(kv.first)) return "the BPF object has no setting named " + kv.first;
  return "";
}

// The verifier gives up with EAGAIN when a signal is pending, and a profiler's SIGPROF (node
// --cpu-prof samples the main thread every millisecond) is pending almost always during a long
// verification. Blocked signals do not count as pending there, so SIGPROF is held back for the
// duration of the load and delivered right after.
int LoadHoldingProfilerSignal(bpf_object* obj) {
  sigset_t prof, old;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &prof, &old);
  int e = bpf_object__load(obj);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return e;
}

// Programs in a plain "uprobe"/"uretprobe" section name no target: AttachUprobe attaches them.
bool IsOnDemandUprobe(const bpf_program* prog) {
  const char* sec = bpf_program__section_name(prog);
  return strcmp(sec, "uprobe") == 0 || strcmp(sec, "uretprobe") == 0;
}

}  // namespace

Probe::~Probe() {
  RequestStop();
  Join();
  Destroy();
}

std::string Probe::Open(const ProbeOptions& opts, std::vector<std::string>* attached) {
  opts_ = opts;
  InstallLibbpfLog();
  TakeLibbpfLog();
  obj_ = bpf_object__open_file(opts.object_path.c_str(), nullptr);
  if (!obj_) {
    int err = errno;
    obj_ = nullptr;
    return "cannot open BPF object " + opts.object_path + ": " + Errno(err);
  }
  std::string err = SetRodata(obj_, opts.rodata);
  if (!err.empty()) return err;
  for (auto& kv : opts.map_sizes) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, kv.first.c_str());
    if (!m) return "the BPF object has no map named " + kv.first;
    int e = bpf_map__set_max_entries(m, kv.second);
    if (e) return "cannot size map " + kv.first + ": " + Errno(e);
  }
  for (auto& kv : opts.reuse_maps) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, kv.first.c_str());
    if (!m) return "the BPF object has no map named " + kv.first;
    int e = bpf_map__reuse_fd(m, kv.second);
    if (e) return "cannot share map " + kv.first + ": " + Errno(e);
  }
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    const char* name = bpf_program__name(prog);
    if (std::find(opts.skip_programs.begin(), opts.skip_programs.end(), name) != opts.skip_programs.end())
      bpf_program__set_autoload(prog, false);
  }
  int e = LoadHoldingProfilerSignal(obj_);
  if (e) return "cannot load BPF programs: " + Errno(e) + "\n" + TakeLibbpfLog();

  for (auto& kv : opts.map_entries) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, kv.first.c_str());
    if (!m) return "the BPF object has no map named " + kv.first;
    for (auto& entry : kv.second) {
      if (entry.first.size() != bpf_map__key_size(m) || entry.second.size() != bpf_map__value_size(m))
        return "wrong key or value size for map " + kv.first;
      e = bpf_map__update_elem(m, entry.first.data(), entry.first.size(), entry.second.data(), entry.second.size(),
                               BPF_ANY);
      if (e) return "cannot fill map " + kv.first + ": " + Errno(e);
    }
  }

  bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoload(prog) || IsOnDemandUprobe(prog)) continue;
    bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int err2 = errno;
      return std::string("cannot attach ") + bpf_program__name(prog) + " (" + bpf_program__section_name(prog) +
             "): " + Errno(err2) + "\n" + TakeLibbpfLog();
    }
    links_.push_back(link);
    if (attached) attached->push_back(bpf_program__name(prog));
  }

  if (opts.reuse_maps.count("events")) return "";  // the object that owns the ring drains it
  bpf_map* events = bpf_object__find_map_by_name(obj_, "events");
  if (!events) return "the BPF object has no ring buffer named events";
  rb_ = ring_buffer__new(bpf_map__fd(events), &Probe::OnSample, this, nullptr);
  if (!rb_) return "cannot open the ring buffer: " + Errno(errno);
  return "";
}

int Probe::OnSample(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Probe*>(ctx);
  if (self->discarding_) {
    self->unread_records_.fetch_add(1, std::memory_order_relaxed);
    self->unread_bytes_.fetch_add(size, std::memory_order_relaxed);
    return 0;
  }
  Batch* b = self->cur_;
  size_t need = kRecordPrefix + Align8(size);
  if (b->len + need > b->capacity) return -1;  // cannot happen: we stop before it is full
  uint32_t prefix[2] = {static_cast<uint32_t>(size), 0};
  memcpy(b->data.get() + b->len, prefix, sizeof(prefix));
  memcpy(b->data.get() + b->len + kRecordPrefix, data, size);
  b->len += need;
  b->records++;
  self->records_.fetch_add(1, std::memory_order_relaxed);
  self->bytes_.fetch_add(size, std::memory_order_relaxed);
  // Stop consuming while a maximal record may no longer fit; the rest stays in the ring.
  constexpr size_t kMaxRecord = kRecordPrefix + kMaxRecordBytes;
  if (b->len + kMaxRecord > b->capacity) {
    self->cur_full_ = true;
    return -1;  // this record is already stored; libbpf stops after it
  }
  return 0;
}

// A free batch, waiting up to timeout_ms for JS to hand one back (or, with wake_on_stop, until a
// stop is requested); nullptr when none came.
Batch* Probe::Acquire(int timeout_ms, bool wake_on_stop) {
  std::unique_lock<std::mutex> lock(mu_);
  if (free_.empty()) {
    waits_.fetch_add(1, std::memory_order_relaxed);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                 [&] { return !free_.empty() || (wake_on_stop && stop_.load()); });
    if (free_.empty()) return nullptr;
  }
  Batch* b = free_.back();
  free_.pop_back();
  b->len = 0;
  b->records = 0;
  return b;
}

void Probe::Release(Batch* b) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(b);
  }
  cv_.notify_one();
}

void Probe::Start(std::function<void(Batch*)> deliver) {
  deliver_ = std::move(deliver);
  pool_.resize(opts_.batch_count);
  for (auto& b : pool_) {
    b.data.reset(new uint8_t[opts_.batch_bytes]);  // uninitialized: its pages fault in at first use
    b.capacity = opts_.batch_bytes;
    free_.push_back(&b);
  }
  thread_ = std::thread([this] { Run(); });
}

// How long a closing probe waits for JS to hand batches back while it drains the ring.
constexpr int kCloseDrainMs = 10000;

// Drains the ring into batches. Records are queued without waking us (BPF_RB_NO_WAKEUP) until
// a byte threshold, so we also consume on a short timer rather than relying on epoll alone.
void Probe::Run() {
  using Clock = std::chrono::steady_clock;
  const int poll_ms = std::max<int>(1, std::min<int>(opts_.flush_ms, 20));
  Clock::time_point first_record, drain_deadline;
  bool drain_started = false;
  // The last batch filled up, so the ring still holds records: consume at once. Sleeping in
  // poll here would wait for a wake-up that may never come (records are submitted without one
  // below the threshold) and cap the drain at one batch per poll period (1 MiB / 20 ms).
  bool backlog = false;
  auto deliver = [&] {
    batches_.fetch_add(1, std::memory_order_relaxed);
    deliver_(cur_);
    cur_ = nullptr;
    cur_full_ = false;
  };
  for (;;) {
    bool stopping = stop_.load();
    if (stopping && !drain_started) {
      drain_started = true;
      drain_deadline = Clock::now() + std::chrono::milliseconds(kCloseDrainMs);
    }
    if (!cur_) {
      // Closing: JS is still working through the batches it holds (it may have been busy for a
      // while); wait for it, but not forever.
      cur_ = Acquire(100, !stopping);
      if (!cur_) {
        if (stopping && Clock::now() >= drain_deadline) {
          CountUnread();  // JS is gone or stuck: what is left is counted, not delivered
          break;
        }
        continue;
      }
    }
    size_t before = cur_->len;
    if (!stopping && !backlog) ring_buffer__poll(rb_, poll_ms);
    if (!cur_full_) ring_buffer__consume(rb_);
    if (before == 0 && cur_->len > 0) first_record = Clock::now();
    bool due = cur_->len > 0 && Clock::now() - first_record >= std::chrono::milliseconds(opts_.flush_ms);
    backlog = cur_full_;
    if (cur_full_ || due || (stopping && cur_->len > 0)) {
      deliver();
      continue;  // stopping: keep draining until the ring is empty
    }
    if (stopping) break;
  }
  if (cur_) Release(cur_), cur_ = nullptr;
}

void Probe::CountUnread() {
  discarding_ = true;
  ring_buffer__consume(rb_);
}

void Probe::RequestStop() {
  stop_.store(true);
  cv_.notify_all();
}

void Probe::Join() {
  if (thread_.joinable()) thread_.join();
}

void Probe::Destroy() {
  if (obj_) final_counters_ = Counters();  // still readable in the exit summary
  if (rb_) ring_buffer__free(rb_), rb_ = nullptr;
  // Each tracepoint detach waits for the kernel (RCU grace periods); detaching the links in
  // parallel lets those waits overlap instead of adding up.
  std::vector<std::thread> detachers;
  for (auto* l : links_) detachers.emplace_back([l] { bpf_link__destroy(l); });
  for (auto& t : detachers) t.join();
  links_.clear();
  if (obj_) bpf_object__close(obj_), obj_ = nullptr;
}

std::string Probe::UpdateMap(const std::string& map, const std::string& key, const std::string& value) {
  if (!obj_) return "the probe is closed";
  bpf_map* m = bpf_object__find_map_by_name(obj_, map.c_str());
  if (!m) return "the BPF object has no map named " + map;
  if (key.size() != bpf_map__key_size(m) || value.size() != bpf_map__value_size(m))
    return "wrong key or value size for map " + map;
  int e = bpf_map__update_elem(m, key.data(), key.size(), value.data(), value.size(), BPF_ANY);
  return e ? "cannot update map " + map + ": " + Errno(e) : "";
}

int Probe::MapFd(const std::string& map) {
  bpf_map* m = obj_ ? bpf_object__find_map_by_name(obj_, map.c_str()) : nullptr;
  return m ? bpf_map__fd(m) : -1;
}

std::string Probe::AttachUprobe(const std::string& program, const std::string& path, const std::string& func,
                                uint64_t offset) {
  if (!obj_) return "the probe is closed";
  bpf_program* prog = bpf_object__find_program_by_name(obj_, program.c_str());
  if (!prog || !IsOnDemandUprobe(prog)) return "the BPF object has no uprobe program named " + program;
  TakeLibbpfLog();
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = strcmp(bpf_program__section_name(prog), "uretprobe") == 0,
              .func_name = func.empty() ? nullptr : func.c_str());  // none: offset is in the file
  bpf_link* link = bpf_program__attach_uprobe_opts(prog, -1, path.c_str(), offset, &opts);
  if (!link) {
    int err = errno;
    TakeLibbpfLog();
    return Errno(err);
  }
  links_.push_back(link);
  return "";
}

std::vector<uint64_t> Probe::Counters() {
  std::vector<uint64_t> out;
  if (!obj_) return final_counters_;
  bpf_map* m = bpf_object__find_map_by_name(obj_, "counters");
  if (!m) return out;
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return out;
  std::vector<uint64_t> per_cpu(ncpu);
  for (uint32_t i = 0; i < bpf_map__max_entries(m); i++) {
    uint64_t sum = 0;
    if (bpf_map__lookup_elem(m, &i, sizeof(i), per_cpu.data(), per_cpu.size() * sizeof(uint64_t), 0) == 0)
      for (auto v : per_cpu) sum += v;
    out.push_back(sum);
  }
  return out;
}

std::string TryProgram(const std::string& object_path, const std::string& program, const std::string& uprobe_path,
                       const std::string& uprobe_func) {
  InstallLibbpfLog();
  TakeLibbpfLog();
  bpf_object* obj = bpf_object__open_file(object_path.c_str(), nullptr);
  if (!obj) return "open: " + Errno(errno);
  bpf_program* target = nullptr;
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    bool is_target = program == bpf_program__name(prog);
    bpf_program__set_autoload(prog, is_target);
    if (is_target) target = prog;
  }
  std::string result;
  if (!target) {
    result = "no program named " + program;
  } else if (int e = LoadHoldingProfilerSignal(obj)) {
    result = "load: " + Errno(e);
  } else {
    bpf_link* link;
    if (strncmp(bpf_program__section_name(target), "uprobe", 6) == 0) {
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = uprobe_func.c_str());
      link = bpf_program__attach_uprobe_opts(target, -1, uprobe_path.c_str(), 0, &opts);
    } else {
      link = bpf_program__attach(target);
    }
    if (!link)
      result = "attach: " + Errno(errno);
    else
      bpf_link__destroy(link);
  }
  bpf_object__close(obj);
  TakeLibbpfLog();
  return result;
}

ProbeStats Probe::Stats() {
  ProbeStats s;
  s.records = records_.load();
  s.bytes = bytes_.load();
  s.batches = batches_.load();
  s.waits_for_consumer = waits_.load();
  s.unread_at_close_records = unread_records_.load();
  s.unread_at_close_bytes = unread_bytes_.load();
  return s;
}

}  // namespace tcpsniff
