// N-API surface of the probe: open (load + attach), start (drain thread → JS callback with
// one Buffer per batch), counters, stats, close (drain, detach, free; returns a Promise).
#include <napi.h>

#include <memory>

#include "probe.h"
#include "record_format.h"

namespace tcpsniff {
namespace {

class ProbeWrap : public Napi::ObjectWrap<ProbeWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "Probe",
        {InstanceMethod("open", &ProbeWrap::Open), InstanceMethod("start", &ProbeWrap::Start),
         InstanceMethod("counters", &ProbeWrap::Counters), InstanceMethod("updateMap", &ProbeWrap::UpdateMap),
         InstanceMethod("mapFd", &ProbeWrap::MapFd), InstanceMethod("attachUprobe", &ProbeWrap::AttachUprobe),
         InstanceMethod("stats", &ProbeWrap::Stats), InstanceMethod("close", &ProbeWrap::Close)});
  }

  explicit ProbeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProbeWrap>(info) {}

 private:
  // open(objectPath, {rodata, mapSizes, mapEntries, reuseMaps, skipPrograms, batchBytes, batchCount, flushMs})
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsObject()) {
      Napi::TypeError::New(env, "open(objectPath: string, options: object)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ProbeOptions opts;
    opts.object_path = info[0].As<Napi::String>().Utf8Value();
    Napi::Object o = info[1].As<Napi::Object>();
    auto forEach = [&](const char* key, auto fn) {
      Napi::Value v = o.Get(key);
      if (!v.IsObject()) return;
      Napi::Object m = v.As<Napi::Object>();
      Napi::Array names = m.GetPropertyNames();
      for (uint32_t i = 0; i < names.Length(); i++) {
        std::string name = names.Get(i).As<Napi::String>().Utf8Value();
        fn(name, m.Get(name));
      }
    };
    forEach("rodata", [&](const std::string& k, Napi::Value v) {
      opts.rodata[k] = static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
    });
    forEach("mapSizes",
            [&](const std::string& k, Napi::Value v) { opts.map_sizes[k] = v.As<Napi::Number>().Uint32Value(); });
    forEach("mapEntries", [&](const std::string& k, Napi::Value v) {
      Napi::Array entries = v.As<Napi::Array>();
      for (uint32_t i = 0; i < entries.Length(); i++) {
        Napi::Array kv = entries.Get(i).As<Napi::Array>();
        auto key = kv.Get(uint32_t(0)).As<Napi::Buffer<char>>();
        auto val = kv.Get(uint32_t(1)).As<Napi::Buffer<char>>();
        opts.map_entries[k].emplace_back(std::string(key.Data(), key.Length()), std::string(val.Data(), val.Length()));
      }
    });
    forEach("reuseMaps",
            [&](const std::string& k, Napi::Value v) { opts.reuse_maps[k] = v.As<Napi::Number>().Int32Value(); });
    Napi::Value skip = o.Get("skipPrograms");
    if (skip.IsArray()) {
      Napi::Array a = skip.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) opts.skip_programs.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
    if (o.Get("batchBytes").IsNumber()) opts.batch_bytes = o.Get("batchBytes").As<Napi::Number>().Uint32Value();
    if (o.Get("batchCount").IsNumber()) opts.batch_count = o.Get("batchCount").As<Napi::Number>().Uint32Value();
    if (o.Get("flushMs").IsNumber()) opts.flush_ms = o.Get("flushMs").As<Napi::Number>().Uint32Value();

    std::vector<std::string> attached;
    std::string err = probe_.Open(opts, &attached);
    if (!err.empty()) {
      probe_.Destroy();  // nothing stays attached after a failed open
      Napi::Error::New(env, err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array out = Napi::Array::New(env, attached.size());
    for (size_t i = 0; i < attached.size(); i++) out.Set(uint32_t(i), attached[i]);
    return out;
  }

  // start(onBatch: (buf: Buffer, records: number) => void). The Buffer is valid only during the
  // call: it is detached afterwards and its memory reused for the next batch.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction() || probe_.running() || !probe_.has_ring()) {
      Napi::TypeError::New(env, "start(onBatch) once, after open(), for an object with its own ring buffer")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "tcpsniff-drain", 0, 1, this,
                                          [](Napi::Env, ProbeWrap* self) { self->OnThreadGone(); });
    self_ref_ = Napi::Persistent(Value());  // Napi::ObjectReference  // keep this object alive while the thread runs
    probe_.Start([this](Batch* b) {
      napi_status st = tsfn_.NonBlockingCall(b, [this](Napi::Env env, Napi::Function cb, Batch* b) {
        if (env != nullptr && cb != nullptr) {
          Napi::HandleScope scope(env);
          auto buf = Napi::Buffer<uint8_t>::New(env, b->data.get(), b->len);
          cb.Call({buf, Napi::Number::New(env, b->records)});
          if (env.IsExceptionPending()) env.GetAndClearPendingException();
          buf.ArrayBuffer().Detach();
          if (env.IsExceptionPending()) env.GetAndClearPendingException();
        }
        probe_.Release(b);
      });
      if (st != napi_ok) probe_.Release(b);
    });
    started_ = true;
    return env.Undefined();
  }

  // updateMap(name, key: Buffer, value: Buffer): throws on error.
  Napi::Value UpdateMap(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsBuffer() || !info[2].IsBuffer()) {
      Napi::TypeError::New(env, "updateMap(name: string, key: Buffer, value: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto key = info[1].As<Napi::Buffer<char>>();
    auto val = info[2].As<Napi::Buffer<char>>();
    std::string err = probe_.UpdateMap(info[0].As<Napi::String>().Utf8Value(), std::string(key.Data(), key.Length()),
                                       std::string(val.Data(), val.Length()));
    if (!err.empty()) Napi::Error::New(env, err).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // mapFd(name): the fd of a map of the loaded object, for another object's reuseMaps; throws when none.
  Napi::Value MapFd(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = info[0].IsString() ? probe_.MapFd(info[0].As<Napi::String>().Utf8Value()) : -1;
    if (fd < 0) {
      Napi::Error::New(env, "mapFd(name): no such map in the loaded object").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, fd);
  }

  // attachUprobe(program, path, func, offset?): throws with the reason when it cannot attach.
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsString() || !info[2].IsString()) {
      Napi::TypeError::New(env, "attachUprobe(program: string, path: string, func: string)")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint64_t offset = info[3].IsNumber() ? static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value()) : 0;
    std::string err =
        probe_.AttachUprobe(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(),
                            info[2].As<Napi::String>().Utf8Value(), offset);
    if (!err.empty()) Napi::Error::New(env, err).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    auto values = probe_.Counters();
    Napi::Array out = Napi::Array::New(info.Env(), values.size());
    for (size_t i = 0; i < values.size(); i++) out.Set(uint32_t(i), Napi::Number::New(info.Env(), double(values[i])));
    return out;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    ProbeStats s = probe_.Stats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("records", double(s.records));
    o.Set("bytes", double(s.bytes));
    o.Set("batches", double(s.batches));
    o.Set("waitsForConsumer", double(s.waits_for_consumer));
    o.Set("unreadAtCloseRecords", double(s.unread_at_close_records));
    o.Set("unreadAtCloseBytes", double(s.unread_at_close_bytes));
    return o;
  }

  // close(): drains what the ring holds to the callback, stops the thread, detaches.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto deferred = Napi::Promise::Deferred::New(env);
    if (closing_) {
      deferred.Reject(Napi::Error::New(env, "close() already called").Value());
      return deferred.Promise();
    }
    closing_ = true;
    if (!started_) {
      probe_.Destroy();
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    close_deferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
    probe_.RequestStop();
    // The drain thread holds the only TSFN reference; it is released when the thread ends
    // (below, from a detached waiter), and the TSFN finalizer then finishes on the JS thread.
    // Never join from the JS thread: the thread may be waiting for JS to hand a batch back.
    std::thread([this] {
      probe_.Join();
      tsfn_.Release();
    }).detach();
    return deferred.Promise();
  }

  // Runs on the JS thread once the drain thread has ended and its last batch was delivered.
  void OnThreadGone() {
    probe_.Join();
    probe_.Destroy();
    if (close_deferred_) {
      close_deferred_->Resolve(Env().Undefined());
      close_deferred_.reset();
    }
    self_ref_.Reset();
  }

  Probe probe_;
  Napi::ThreadSafeFunction tsfn_;
  Napi::ObjectReference self_ref_;
  std::unique_ptr<Napi::Promise::Deferred> close_deferred_;
  bool started_ = false;
  bool closing_ = false;
};

// tryProgram(objectPath, program, uprobePath, uprobeFunc): "" when it loads and attaches here.
Napi::Value TryProgramJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (int i = 0; i < 4; i++)
    if (!info[i].IsString()) {
      Napi::TypeError::New(env, "tryProgram(objectPath, program, uprobePath, uprobeFunc)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  auto str = [&](int i) { return info[i].As<Napi::String>().Utf8Value(); };
  return Napi::String::New(env, TryProgram(str(0), str(1), str(2), str(3)));
}

}  // namespace
}  // namespace tcpsniff

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("tryProgram", Napi::Function::New(env, tcpsniff::TryProgramJs));
  exports.Set("Probe", tcpsniff::ProbeWrap::Init(env));
  // The record format the BPF objects were built with (bpf/include/record.h), for the decoder's check.
  exports.Set("recordVersion", Napi::Number::New(env, REC_VERSION));
  exports.Set("recordHeaderBytes", Napi::Number::New(env, sizeof(struct rec_hdr)));
  exports.Set("recordChunkBytes", Napi::Number::New(env, REC_CHUNK_BYTES));
  return exports;
}

NODE_API_MODULE(tcpsniff, InitAddon)
