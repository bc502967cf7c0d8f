#include "binding.h"

#include <uv.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "errors.h"

#ifndef NED_VERSION
#define NED_VERSION "0.0.0"
#endif

namespace ned {

namespace {

// Marks the externals made by compileProfile, so a foreign External can never be taken for one.
constexpr napi_type_tag kProfileTag = {0x6e65642d70726f66ULL, 0x696c65733a763031ULL};
// Recycled transfers keep their buffers; this many are kept between bursts.
constexpr size_t kMaxSpareTransfers = 1024;

using ProfileRef = std::shared_ptr<const Profile>;

// The JS layer validates every argument; these guards only make sure that calling the binding
// directly with junk throws instead of crashing.
[[noreturn]] void Throw(Napi::Env env, bool range, const std::string& message) {
  Napi::Error error = range ? static_cast<Napi::Error>(Napi::RangeError::New(env, message))
                            : static_cast<Napi::Error>(Napi::TypeError::New(env, message));
  error.Set("code", Napi::String::New(env, range ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE"));
  throw error;
}

void CopyString(Napi::Env env, napi_value value, std::string* out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    Throw(env, false, "expected a string");
  }
  out->resize(length);
  size_t copied = 0;
  napi_get_value_string_utf8(env, value, &(*out)[0], length + 1, &copied);
  out->resize(copied);
}

// Bytes of a string (as UTF-8) or of any ArrayBufferView, copied so the pump owns them.
void CopyBody(Napi::Env env, napi_value value, Bytes* out) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_string) {
    // One pass: UTF-8 needs at most 3 bytes per UTF-16 unit, so size for that and write once.
    size_t units = 0;
    napi_get_value_string_utf16(env, value, nullptr, 0, &units);
    const size_t room = units * 3 + 1;
    size_t written = 0;
    napi_get_value_string_utf8(env, value, out->Reserve(room), room, &written);
    out->Resize(written);
    return;
  }
  bool is_typed = false;
  bool is_view = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) napi_is_dataview(env, value, &is_view);
  void* data = nullptr;
  size_t bytes = 0;
  if (is_typed) {
    napi_typedarray_type kind;
    size_t length = 0;
    napi_value buffer;
    size_t offset = 0;
    napi_get_typedarray_info(env, value, &kind, &length, &data, &buffer, &offset);
    size_t element = 1;
    switch (kind) {
      case napi_int16_array:
      case napi_uint16_array:
        element = 2;
        break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array:
        element = 4;
        break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array:
        element = 8;
        break;
      default:
        break;
    }
    bytes = length * element;
  } else if (is_view) {
    napi_value buffer;
    size_t offset = 0;
    napi_get_dataview_info(env, value, &bytes, &data, &buffer, &offset);
  } else {
    Throw(env, false, "body must be a string or an ArrayBufferView");
  }
  out->Assign(static_cast<const char*>(data), bytes);
}

double GetNumber(Napi::Object o, const char* key, double min, double max) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) Throw(o.Env(), false, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    Throw(o.Env(), true, std::string(key) + " is out of range");
  }
  return d;
}

std::string GetString(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::string();
  if (!v.IsString()) Throw(o.Env(), false, std::string(key) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) Throw(o.Env(), false, std::string(key) + " contains NUL");
  return s;
}

bool GetBool(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) Throw(o.Env(), false, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// An array of strings as a curl_slist; a line with CR, LF or NUL could smuggle a header or
// request, so it is refused here too.
curl_slist* GetLines(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsArray()) Throw(o.Env(), false, std::string(key) + " must be an array of strings");
  Napi::Array array = v.As<Napi::Array>();
  curl_slist* list = nullptr;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) {
      curl_slist_free_all(list);
      Throw(o.Env(), false, std::string(key) + " must be an array of strings");
    }
    std::string line = item.As<Napi::String>().Utf8Value();
    if (line.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      curl_slist_free_all(list);
      Throw(o.Env(), false, std::string(key) + " has a line with CR, LF or NUL");
    }
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) {
      curl_slist_free_all(list);
      throw std::bad_alloc();
    }
    list = next;
  }
  return list;
}

const Profile* UnwrapProfile(Napi::Env env, napi_value value, ProfileRef** holder) {
  bool tagged = false;
  if (napi_check_object_type_tag(env, value, &kProfileTag, &tagged) != napi_ok || !tagged) {
    Throw(env, false, "profile must come from compileProfile()");
  }
  void* data = nullptr;
  napi_get_value_external(env, value, &data);
  *holder = static_cast<ProfileRef*>(data);
  return (*holder)->get();
}

// { dnsMs, connectMs, tlsMs, firstByteMs, totalMs } for a transfer made with timings.
Napi::Value TimingsOf(Napi::Env env, const Transfer& t) {
  static const char* const kNames[5] = {"dnsMs", "connectMs", "tlsMs", "firstByteMs", "totalMs"};
  Napi::Object out = Napi::Object::New(env);
  for (int i = 0; i < 5; ++i) {
    out.Set(kNames[i],
            t.timing_ms[i] >= 0 ? Napi::Value(Napi::Number::New(env, t.timing_ms[i])) : env.Null());
  }
  return out;
}

}  // namespace

Binding::Binding(Napi::Env env, Napi::Object exports)
    : async_context_(env, "native-event-dispatcher") {
  DefineAddon(
      exports,
      {InstanceMethod("dispatch", &Binding::Dispatch), InstanceMethod("send", &Binding::Send),
       InstanceMethod("setCompletionSink", &Binding::SetCompletionSink),
       InstanceMethod("compileProfile", &Binding::CompileProfile),
       InstanceMethod("configure", &Binding::Configure),
       InstanceMethod("versions", &Binding::Versions), InstanceMethod("stats", &Binding::Stats),
       InstanceMethod("halt", &Binding::Halt),
       InstanceMethod("setErrorClass", &Binding::SetErrorClass)});

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "native-event-dispatcher: no event loop in this environment");
  }
  std::string error;
  pump_ = Pump::Create(loop, this, Limits{}, &error);
  if (pump_ == nullptr) throw Napi::Error::New(env, "native-event-dispatcher: " + error);
  // Asynchronous, so a worker's teardown waits until the pump has left the threadpool.
  napi_add_async_cleanup_hook(env, &Binding::OnEnvironmentCleanup, this, &cleanup_handle_);
}

Binding::~Binding() = default;

void Binding::OnEnvironmentCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* self = static_cast<Binding*>(arg);
  Pump* pump = self->pump_;
  self->pump_ = nullptr;
  pump->Shutdown(
      [](void* h) {
        napi_remove_async_cleanup_hook(static_cast<napi_async_cleanup_hook_handle>(h));
      },
      handle);
}

std::unique_ptr<Transfer> Binding::NewTransfer() {
  if (spare_.empty()) return std::make_unique<Transfer>();
  std::unique_ptr<Transfer> t = std::move(spare_.back());
  spare_.pop_back();
  return t;
}

void Binding::Recycle(std::unique_ptr<Transfer> t) {
  if (spare_.size() >= kMaxSpareTransfers) return;
  t->Clear();
  spare_.push_back(std::move(t));
}

// Copies (verbCode, url, host, https, body, profile) into a new transfer.
std::unique_ptr<Transfer> Binding::ReadRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pump_ == nullptr) throw Napi::Error::New(env, "native-event-dispatcher is shutting down");
  if (info.Length() < 7 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsString() ||
      !info[3].IsBoolean()) {
    Throw(env, false, "dispatch(verbCode, url, host, https, body, profile, site|id)");
  }
  const int32_t verb = info[0].As<Napi::Number>().Int32Value();
  if (verb < 0 || verb > 3) Throw(env, true, "verbCode must be 0..3");

  ProfileRef* profile = nullptr;
  UnwrapProfile(env, info[5], &profile);

  std::unique_ptr<Transfer> t = NewTransfer();
  t->verb = static_cast<Verb>(verb);
  CopyString(env, info[1], &t->url);
  if (t->url.empty() || t->url.find('\0') != std::string::npos) Throw(env, false, "bad url");
  CopyString(env, info[2], &t->host);
  t->https = info[3].As<Napi::Boolean>().Value();
  if (t->verb != Verb::kGet) CopyBody(env, info[4], &t->body);
  t->profile = *profile;
  return t;
}

Napi::Value Binding::Dispatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_ptr<Transfer> t = ReadRequest(info);
  napi_value promise;
  napi_deferred deferred;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) {
    throw Napi::Error::New(env, "cannot create a promise");
  }
  napi_ref site = nullptr;
  if (info[6].IsObject()) napi_create_reference(env, info[6], 1, &site);
  t->settle_handle = deferred;
  t->site_handle = site;
  pump_->Submit(std::move(t));
  return Napi::Value(env, promise);
}

Napi::Value Binding::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (sink_.IsEmpty()) throw Napi::Error::New(env, "send() needs setCompletionSink() first");
  if (info.Length() < 7 || !info[6].IsNumber()) Throw(env, false, "send(..., id)");
  const double id = info[6].As<Napi::Number>().DoubleValue();
  if (!(id > 0)) Throw(env, true, "id must be positive");
  std::unique_ptr<Transfer> t = ReadRequest(info);
  t->sink_id = id;
  pump_->Submit(std::move(t));
  return env.Undefined();
}

Napi::Value Binding::SetCompletionSink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) Throw(env, false, "setCompletionSink(fn)");
  sink_ = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

Napi::Value Binding::CompileProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) Throw(env, false, "compileProfile(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  auto profile = std::make_shared<Profile>();
  profile->timeout_ms = static_cast<long>(GetNumber(o, "timeoutMs", 1, 2147483647));
  profile->connect_timeout_ms = static_cast<long>(GetNumber(o, "connectTimeoutMs", 1, 2147483647));
  profile->max_response_bytes =
      static_cast<size_t>(GetNumber(o, "maxResponseBytes", 0, 1024.0 * 1024 * 1024));
  profile->insecure = GetBool(o, "insecure");
  profile->http2 = GetBool(o, "http2");
  profile->verbose = GetBool(o, "verbose");
  profile->timings = GetBool(o, "timings");
  profile->user_agent = GetString(o, "userAgent");
  profile->ca_file = GetString(o, "caFile");
  profile->http_proxy = GetString(o, "httpProxy");
  profile->https_proxy = GetString(o, "httpsProxy");
  profile->no_proxy = GetString(o, "noProxy");
  profile->body_headers = GetLines(o, "bodyHeaders");
  profile->get_headers = GetLines(o, "getHeaders");
  profile->connect_to = GetLines(o, "connectTo");

  auto* holder = new ProfileRef(std::move(profile));
  napi_value external;
  napi_status status = napi_create_external(
      env, holder, [](napi_env, void* data, void*) { delete static_cast<ProfileRef*>(data); },
      nullptr, &external);
  if (status != napi_ok) {
    delete holder;
    throw Napi::Error::New(env, "cannot create a profile");
  }
  napi_type_tag_object(env, external, &kProfileTag);
  return Napi::Value(env, external);
}

Napi::Value Binding::Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) Throw(env, false, "configure(limits)");
  if (pump_ == nullptr) return env.Undefined();
  Napi::Object o = info[0].As<Napi::Object>();
  Limits limits;
  limits.max_host_connections = static_cast<long>(GetNumber(o, "maxHostConnections", 1, 100000));
  limits.max_total_connections = static_cast<long>(GetNumber(o, "maxTotalConnections", 1, 100000));
  limits.max_in_flight = static_cast<long>(GetNumber(o, "maxInFlight", 1, 100000));
  pump_->SetLimits(limits);
  return env.Undefined();
}

Napi::Value Binding::Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  auto text = [&env](const char* s) -> Napi::Value {
    return s != nullptr ? Napi::String::New(env, s) : env.Null();
  };
  Napi::Object out = Napi::Object::New(env);
  out.Set("addon", NED_VERSION);
  out.Set("libcurl", text(v->version));
  out.Set("tls", text(v->ssl_version));
  out.Set("nghttp2", text(v->nghttp2_version));
  out.Set("zlib", text(v->libz_version));
  out.Set("http2", Napi::Boolean::New(env, (v->features & CURL_VERSION_HTTP2) != 0));
  out.Set("asyncDns", Napi::Boolean::New(env, (v->features & CURL_VERSION_ASYNCHDNS) != 0));
  // The CA bundle and directory libcurl uses when no caFile is given (libcurl 7.84+ tells).
  Napi::Value ca_file = env.Null();
  Napi::Value ca_path = env.Null();
  if (CURL* easy = curl_easy_init()) {
    char* value = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_CAINFO, &value) == CURLE_OK && value)
      ca_file = text(value);
    value = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_CAPATH, &value) == CURLE_OK && value)
      ca_path = text(value);
    curl_easy_cleanup(easy);
  }
  out.Set("caFile", ca_file);
  out.Set("caPath", ca_path);
  return out;
}

Napi::Value Binding::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (pump_ == nullptr) return out;
  const PumpStats s = pump_->Stats();
  out.Set("submitted", Napi::Number::New(env, static_cast<double>(s.submitted)));
  out.Set("settled", Napi::Number::New(env, static_cast<double>(s.settled)));
  out.Set("pending", Napi::Number::New(env, static_cast<double>(s.pending)));
  out.Set("pumpRuns", Napi::Number::New(env, static_cast<double>(s.runs)));
  out.Set("pumpRunning", Napi::Boolean::New(env, s.running));
  return out;
}

Napi::Value Binding::Halt(const Napi::CallbackInfo& info) {
  if (pump_ != nullptr) pump_->Halt();
  return info.Env().Undefined();
}

Napi::Value Binding::SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) Throw(env, false, "setErrorClass(class)");
  error_class_ = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

void Binding::OnCompleted(TransferBatch* batch) {
  if (batch->empty()) return;
  SettleBatch(batch);
}

void Binding::SettleBatch(TransferBatch* batch) {
  Napi::Env env(async_context_.Env());
  Napi::HandleScope scope(env);
  // One callback scope per batch: promise reactions run once, after every settle in the batch.
  Napi::CallbackScope callback_scope(env, async_context_);
  sink_done_.clear();
  Napi::Array others;
  uint32_t other_count = 0;
  for (std::unique_ptr<Transfer>& t : *batch) {
    if (t->sink_id == 0) {
      Settle(env, t.get());
    } else if (t->result == CURLE_OK && t->status >= 200 && t->status < 300) {
      sink_done_.push_back(t->sink_id);  // the common case: three numbers, no objects
      sink_done_.push_back(static_cast<double>(t->status));
      sink_done_.push_back(static_cast<double>(t->body.size()));
    } else {
      if (others.IsEmpty()) others = Napi::Array::New(env);
      const uint32_t index = other_count++;
      try {
        others.Set(index, SinkRecord(env, *t));
      } catch (const Napi::Error& e) {
        Napi::Object record = Napi::Object::New(env);
        record.Set("id", Napi::Number::New(env, t->sink_id));
        record.Set("error", e.Value());
        others.Set(index, record);
      }
    }
    Recycle(std::move(t));
  }
  if (sink_done_.empty() && other_count == 0) return;
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, sink_done_.size() * sizeof(double));
  if (!sink_done_.empty()) {
    std::memcpy(buffer.Data(), sink_done_.data(), sink_done_.size() * sizeof(double));
  }
  Napi::Float64Array done = Napi::Float64Array::New(env, sink_done_.size(), buffer, 0);
  try {
    sink_.Call({done, others.IsEmpty() ? env.Undefined() : Napi::Value(others)});
  } catch (const Napi::Error& e) {
    // A bug in the JS sink: report it like any uncaught exception, do not lose the env.
    napi_fatal_exception(env, e.Value());
  }
}

// { id, statusCode, retryAfter, error } for an answer other than 2xx, or a failure.
Napi::Value Binding::SinkRecord(Napi::Env env, const Transfer& t) {
  Napi::Object record = Napi::Object::New(env);
  record.Set("id", Napi::Number::New(env, t.sink_id));
  record.Set("bytes", Napi::Number::New(env, static_cast<double>(t.body.size())));
  if (t.status > 0) record.Set("statusCode", Napi::Number::New(env, static_cast<double>(t.status)));
  if (t.result == CURLE_OK) {
    for (const Header& h : t.headers) {
      if (h.name == "retry-after") record.Set("retryAfter", Napi::String::New(env, h.value));
    }
  } else if (!error_class_.IsEmpty()) {
    record.Set("error", MakeDispatchError(env, error_class_, t, env.Undefined()));
  }
  return record;
}

void Binding::Settle(Napi::Env env, Transfer* t) {
  auto deferred = static_cast<napi_deferred>(t->settle_handle);
  auto site = static_cast<napi_ref>(t->site_handle);
  t->settle_handle = nullptr;
  t->site_handle = nullptr;
  Napi::HandleScope scope(env);
  try {
    if (t->result == CURLE_OK) {
      Napi::Object headers = Napi::Object::New(env);
      for (const Header& h : t->headers) {
        headers.Set(h.name, Napi::String::New(env, h.value));
      }
      Napi::Object response = Napi::Object::New(env);
      response.Set("statusCode", Napi::Number::New(env, static_cast<double>(t->status)));
      response.Set("headers", headers);
      response.Set("body",
                   Napi::String::New(env, t->response_body.data(), t->response_body.size()));
      if (t->profile->timings) response.Set("timings", TimingsOf(env, *t));
      napi_resolve_deferred(env, deferred, response);
    } else {
      Napi::Value site_value = env.Undefined();
      if (site != nullptr) {
        napi_value v;
        if (napi_get_reference_value(env, site, &v) == napi_ok && v != nullptr) {
          site_value = Napi::Value(env, v);
        }
      }
      Napi::Value error;
      if (!error_class_.IsEmpty()) {
        error = MakeDispatchError(env, error_class_, *t, site_value);
      } else {
        Napi::Error plain = Napi::Error::New(env, ErrorMessage(*t));
        plain.Set("code", Napi::String::New(env, ErrorCode(*t)));
        plain.Set("curlCode", Napi::Number::New(env, static_cast<double>(t->result)));
        error = plain.Value();
      }
      if (t->profile->timings && error.IsObject()) {
        error.As<Napi::Object>().Set("timings", TimingsOf(env, *t));
      }
      napi_reject_deferred(env, deferred, error);
    }
  } catch (const Napi::Error& e) {
    napi_reject_deferred(env, deferred, e.Value());
  } catch (const std::exception& e) {
    napi_reject_deferred(env, deferred, Napi::Error::New(env, e.what()).Value());
  }
  if (site != nullptr) napi_delete_reference(env, site);
}

}  // namespace ned
