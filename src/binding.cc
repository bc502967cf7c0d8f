#include "binding.h"

#include <uv.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "holds.h"
#include "memory.h"

#ifndef NED_VERSION
#define NED_VERSION "0.0.0"
#endif

namespace ned {

namespace {

// Marks the externals made by compileProfile, so a foreign External can never be taken for one.
constexpr napi_type_tag kProfileTag = {0x6e65642d70726f66ULL, 0x696c65733a763032ULL};
// Recycled transfers keep their buffers; this many are kept between bursts.
constexpr size_t kMaxSpareTransfers = 1024;
// The batch array's first size, in numbers (64 completions).
constexpr size_t kMinNumbers = 256;

using ProfileRef = std::shared_ptr<const Profile>;

// lib/ validates every argument and owns the defaults; these guards only make sure that calling
// the binding directly with junk throws instead of crashing. Raw napi_throw: if the environment is
// being torn down the throw fails quietly, which is all that can be done then.
Napi::Value Throw(napi_env env, bool range, const char* message) {
  napi_value msg;
  napi_value code;
  napi_value error;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return {};
  const char* code_text = range ? "ERR_OUT_OF_RANGE" : "ERR_INVALID_ARG_TYPE";
  napi_create_string_utf8(env, code_text, NAPI_AUTO_LENGTH, &code);
  napi_status status = range ? napi_create_range_error(env, code, msg, &error)
                             : napi_create_type_error(env, code, msg, &error);
  if (status == napi_ok) napi_throw(env, error);
  return {};
}

bool CopyString(napi_env env, napi_value value, std::string* out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  out->resize(length);
  size_t copied = 0;
  napi_get_value_string_utf8(env, value, &(*out)[0], length + 1, &copied);
  out->resize(copied);
  return true;
}

// Bytes of a string (as UTF-8) or of any ArrayBufferView, copied so the pump owns them.
bool CopyBody(napi_env env, napi_value value, Bytes* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) {
    out->Resize(0);
    return true;
  }
  if (type == napi_string) {
    // One pass: UTF-8 needs at most 3 bytes per UTF-16 unit, so size for that and write once.
    size_t units = 0;
    napi_get_value_string_utf16(env, value, nullptr, 0, &units);
    const size_t room = units * 3 + 1;
    size_t written = 0;
    napi_get_value_string_utf8(env, value, out->Reserve(room), room, &written);
    out->Resize(written);
    return true;
  }
  bool is_typed = false;
  bool is_view = false;
  napi_is_typedarray(env, value, &is_typed);
  if (!is_typed) napi_is_dataview(env, value, &is_view);
  void* data = nullptr;
  size_t bytes = 0;
  napi_value buffer;
  size_t offset = 0;
  if (is_typed) {
    napi_typedarray_type kind;
    size_t length = 0;
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
    napi_get_dataview_info(env, value, &bytes, &data, &buffer, &offset);
  } else {
    return false;
  }
  out->Assign(static_cast<const char*>(data), bytes);
  return true;
}

// Calls each(text) for every element of an array of strings without CR, LF or NUL (in a header
// line they could smuggle a header or a request). False when `value` is anything else.
template <typename Each>
bool ForEachText(napi_env env, napi_value value, Each each) {
  bool is_array = false;
  if (napi_is_array(env, value, &is_array) != napi_ok || !is_array) return false;
  uint32_t length = 0;
  napi_get_array_length(env, value, &length);
  std::string text;
  for (uint32_t i = 0; i < length; ++i) {
    napi_value item;
    napi_valuetype type;
    if (napi_get_element(env, value, i, &item) != napi_ok ||
        napi_typeof(env, item, &type) != napi_ok || type != napi_string ||
        !CopyString(env, item, &text) ||
        text.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      return false;
    }
    each(text);
  }
  return true;
}

// An array of header lines as a curl_slist. Returns false on junk.
bool CopyLines(napi_env env, napi_value value, curl_slist** out) {
  *out = nullptr;
  const bool ok = ForEachText(env, value, [out](const std::string& line) {
    curl_slist* next = curl_slist_append(*out, line.c_str());
    if (next == nullptr) {
      curl_slist_free_all(*out);
      *out = nullptr;
      throw std::bad_alloc();
    }
    *out = next;
  });
  if (!ok) {
    curl_slist_free_all(*out);
    *out = nullptr;
  }
  return ok;
}

// An array of names (header names for the trace to mask), or undefined for none. False on junk.
bool CopyNames(napi_env env, napi_value value, std::vector<std::string>* out) {
  out->clear();
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  return ForEachText(env, value, [out](const std::string& name) { out->push_back(name); });
}

double GetNumber(Napi::Object o, const char* key, double min, double max) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + " is out of range");
  }
  return d;
}

std::string GetString(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(o.Env(), std::string(key) + " contains NUL");
  }
  return s;
}

bool GetBool(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

curl_slist* GetLines(Napi::Object o, const char* key) {
  curl_slist* list = nullptr;
  if (!CopyLines(o.Env(), o.Get(key), &list)) {
    throw Napi::TypeError::New(
        o.Env(), std::string(key) + " must be an array of strings without CR, LF or NUL");
  }
  return list;
}

void SetNamed(napi_env env, napi_value object, const char* key, napi_value value) {
  if (value != nullptr) napi_set_named_property(env, object, key, value);
}

napi_value String(napi_env env, const std::string& s) {
  napi_value v = nullptr;
  napi_create_string_utf8(env, s.data(), s.size(), &v);
  return v;
}

napi_value Number(napi_env env, double d) {
  napi_value v = nullptr;
  napi_create_double(env, d, &v);
  return v;
}

}  // namespace

Binding::Binding(Napi::Env env, Napi::Object exports) : env_(env) {
  // Exports first: if this environment is being torn down while it loads the addon, this throws
  // (into JS, quietly) before anything is allocated that would need freeing.
  DefineAddon(
      exports,
      {InstanceMethod("setup", &Binding::Setup), InstanceMethod("submit", &Binding::Submit),
       InstanceMethod("abort", &Binding::Abort),
       InstanceMethod("setCompletionSink", &Binding::SetCompletionSink),
       InstanceMethod("compileProfile", &Binding::CompileProfile),
       InstanceMethod("configure", &Binding::Configure),
       InstanceMethod("closeIdle", &Binding::CloseIdle),
       InstanceMethod("versions", &Binding::Versions), InstanceMethod("stats", &Binding::Stats),
       InstanceMethod("halt", &Binding::Halt), InstanceMethod("holdSlot", &Binding::HoldSlot),
       InstanceMethod("slotHeld", &Binding::SlotHeld)});

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw Napi::Error::New(env, "native-event-dispatcher: no event loop in this environment");
  }
  napi_value resource;
  napi_value name;
  if (napi_create_object(env, &resource) != napi_ok ||
      napi_create_reference(env, resource, 1, &resource_) != napi_ok ||
      napi_create_string_utf8(env, "native-event-dispatcher", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, resource, name, &async_context_) != napi_ok) {
    throw Napi::Error::New(env, "native-event-dispatcher: cannot set up this environment");
  }
  std::string error;
  Channel* channel = Channel::Open(loop, this, &error);
  if (channel == nullptr) throw Napi::Error::New(env, "native-event-dispatcher: " + error);
  link_ = new Link();
  link_->channel = channel;
  // Asynchronous, so an environment's teardown waits until the pump has let go of its transfers.
  napi_add_async_cleanup_hook(env, &Binding::OnEnvironmentCleanup, link_, &link_->handle);
}

Binding::~Binding() {
  Holds::DropAll(this);  // a terminated worker's spool slots are anybody's now
  // The environment is being torn down; the channel may outlive this object until its close ends.
  if (link_ == nullptr) return;
  if (link_->channel != nullptr) link_->channel->ForgetSink();
  link_->binding_alive = false;
  if (link_->hook_finished) delete link_;
  if (async_context_ != nullptr) napi_async_destroy(env_, async_context_);
}

void Binding::OnEnvironmentCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* link = static_cast<Link*>(arg);
  Channel* channel = link->channel;
  link->channel = nullptr;
  channel->Close(
      [](void* a) {
        auto* l = static_cast<Link*>(a);
        napi_remove_async_cleanup_hook(l->handle);
        if (l->binding_alive) {
          l->hook_finished = true;
        } else {
          delete l;
        }
      },
      link);
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

Napi::Value Binding::Setup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return Throw(env, false, "setup(protocol)");
  Napi::Object o = info[0].As<Napi::Object>();
  Protocol p;
  std::vector<std::string> methods;
  if (!CopyNames(env, o.Get("methods"), &methods)) {
    throw Napi::TypeError::New(env, "methods must be an array of method names");
  }
  for (const std::string& method : methods) {
    Verb verb;
    if (!VerbNamed(method, &verb)) throw Napi::RangeError::New(env, "cannot send " + method);
    p.verbs.push_back(verb);
  }
  Napi::Value flags = o.Get("flags");
  if (!flags.IsObject()) throw Napi::TypeError::New(env, "flags must be an object");
  p.response_flag =
      static_cast<uint32_t>(GetNumber(flags.As<Napi::Object>(), "RESPONSE", 1, 1 << 30));
  p.binary_flag = static_cast<uint32_t>(GetNumber(flags.As<Napi::Object>(), "BINARY", 1, 1 << 30));
  p.direct_flag = static_cast<uint32_t>(GetNumber(flags.As<Napi::Object>(), "DIRECT", 1, 1 << 30));
  p.max_ms = GetNumber(o, "maxMs", 1, 9007199254740991.0);
  p.max_response_bytes = GetNumber(o, "maxResponseBytes", 0, 9007199254740991.0);
  p.max_limit = GetNumber(o, "maxLimit", 1, 9007199254740991.0);
  Napi::Value batch = o.Get("batch");
  if (!batch.IsObject()) throw Napi::TypeError::New(env, "batch must be an object");
  if (GetNumber(batch.As<Napi::Object>(), "stride", 1, 64) != BatchEncoder::kStride ||
      GetNumber(batch.As<Napi::Object>(), "span", 1, 64) != BatchEncoder::kSpan) {
    throw Napi::RangeError::New(
        env, "batch: this addon packs " + std::to_string(BatchEncoder::kStride) +
                 " numbers a completion and " + std::to_string(BatchEncoder::kSpan) + " a span");
  }
  ResponseRules rules;
  rules.max_head_bytes = static_cast<size_t>(GetNumber(o, "maxHeadBytes", 1024, 1 << 30));
  Napi::Value unreadable = o.Get("unreadable");
  if (!unreadable.IsObject()) throw Napi::TypeError::New(env, "unreadable must be an object");
  rules.head_too_large = GetString(unreadable.As<Napi::Object>(), "headTooLarge");
  rules.bad_content_length = GetString(unreadable.As<Napi::Object>(), "badContentLength");
  rules.both_framings = GetString(unreadable.As<Napi::Object>(), "bothFramings");
  std::vector<std::string> codes;
  if (!CopyNames(env, o.Get("errorCodes"), &codes)) {
    throw Napi::TypeError::New(env, "errorCodes must be an array of strings");
  }
  if (const char* missing = ErrorCodeMissingFrom(codes)) {
    throw Napi::Error::New(env, std::string("errorCodes lacks ") + missing);
  }
  Napi::Value texts = o.Get("curlTexts");
  if (!texts.IsObject()) throw Napi::TypeError::New(env, "curlTexts must be an object");
  Napi::Array numbers = texts.As<Napi::Object>().GetPropertyNames();
  for (uint32_t i = 0; i < numbers.Length(); ++i) {
    Napi::Value key = numbers.Get(i);
    const double number = key.ToNumber().DoubleValue();
    if (!(number >= 0 && number <= CURL_LAST) || std::floor(number) != number) {
      throw Napi::RangeError::New(env, "curlTexts must be keyed by libcurl codes");
    }
    const auto at = static_cast<size_t>(number);
    if (p.curl_texts.size() <= at) p.curl_texts.resize(at + 1);
    p.curl_texts[at] = GetString(texts.As<Napi::Object>(), key.ToString().Utf8Value().c_str());
  }
  std::string rules_error;
  if (!SetResponseRules(rules, &rules_error)) throw Napi::Error::New(env, rules_error);
  protocol_ = std::move(p);
  set_up_ = true;
  return env.Undefined();
}

Napi::Value Binding::Submit(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Channel* channel = link_->channel;
  if (channel == nullptr) return Throw(env, false, "native-event-dispatcher is shutting down");
  if (!set_up_) return Throw(env, false, "submit() needs setup() first");
  if (sink_ == nullptr) return Throw(env, false, "submit() needs setCompletionSink() first");
  if (info.Length() < 7) {
    return Throw(env, false, "submit(id, verbCode, url, body, profile, headers, flags)");
  }
  double id = 0;
  int32_t verb = -1;
  int32_t flags = 0;
  if (napi_get_value_double(env, info[0], &id) != napi_ok || !(id > 0)) {
    return Throw(env, false, "id must be a positive number");
  }
  if (napi_get_value_int32(env, info[1], &verb) != napi_ok || verb < 0 ||
      static_cast<size_t>(verb) >= protocol_.verbs.size()) {
    return Throw(env, true, "verbCode is not one of setup()'s methods");
  }
  if (napi_get_value_int32(env, info[6], &flags) != napi_ok) {
    return Throw(env, false, "flags must be a number");
  }
  bool tagged = false;
  if (napi_check_object_type_tag(env, info[4], &kProfileTag, &tagged) != napi_ok || !tagged) {
    return Throw(env, false, "profile must come from compileProfile()");
  }
  void* holder = nullptr;
  napi_get_value_external(env, info[4], &holder);

  std::unique_ptr<Transfer> t = NewTransfer();
  t->id = id;
  t->verb = protocol_.verbs[verb];
  const auto wanted = static_cast<uint32_t>(flags);
  t->flags = ((wanted & protocol_.response_flag) != 0 ? static_cast<uint32_t>(kKeepResponse) : 0u) |
             ((wanted & protocol_.binary_flag) != 0 ? static_cast<uint32_t>(kBinaryBody) : 0u) |
             ((wanted & protocol_.direct_flag) != 0 ? static_cast<uint32_t>(kDirect) : 0u);
  napi_valuetype type;
  if (napi_typeof(env, info[2], &type) != napi_ok || type != napi_string ||
      !CopyString(env, info[2], &t->url) || t->url.empty() ||
      t->url.find('\0') != std::string::npos) {
    Recycle(std::move(t));
    return Throw(env, false, "url must be a non-empty string");
  }
  if (!CopyBody(env, info[3], &t->body)) {
    Recycle(std::move(t));
    return Throw(env, false, "body must be a string, an ArrayBufferView or undefined");
  }
  if (napi_typeof(env, info[5], &type) == napi_ok && type != napi_undefined &&
      !CopyLines(env, info[5], &t->headers)) {
    Recycle(std::move(t));
    return Throw(env, false, "headers must be an array of strings without CR, LF or NUL");
  }
  // With the trace on, lib/ names the secret headers among this request's own lines.
  if (info.Length() > 7 && !CopyNames(env, info[7], &t->trace_secrets)) {
    Recycle(std::move(t));
    return Throw(env, false, "traceSecrets must be an array of header names or undefined");
  }
  t->profile = *static_cast<ProfileRef*>(holder);
  if (t->headers != nullptr) t->headers = WithUserAgent(t->headers, t->profile->user_agent);
  // The body's size as sent, so the caller need not count the text's UTF-8 bytes itself.
  const double copied = static_cast<double>(t->body.size());
  channel->Submit(std::move(t));
  return Napi::Number::New(env, copied);
}

Napi::Value Binding::HoldSlot(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  std::string name;
  bool held = false;
  if (info.Length() < 2 || !CopyString(env, info[0], &name) ||
      napi_get_value_bool(env, info[1], &held) != napi_ok) {
    return Throw(env, false, "holdSlot(dir, held)");
  }
  if (held) return Napi::Boolean::New(env, Holds::Take(this, name));
  Holds::Drop(this, name);
  return Napi::Boolean::New(env, true);
}

Napi::Value Binding::SlotHeld(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  std::string name;
  if (info.Length() < 1 || !CopyString(env, info[0], &name))
    return Throw(env, false, "slotHeld(dir)");
  return Napi::Boolean::New(env, Holds::Held(name));
}

Napi::Value Binding::Abort(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  double id = 0;
  if (info.Length() < 1 || napi_get_value_double(env, info[0], &id) != napi_ok) {
    return Throw(env, false, "abort(id)");
  }
  if (link_->channel != nullptr) link_->channel->Abort(id);
  return Napi::Value();
}

Napi::Value Binding::SetCompletionSink(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_valuetype type;
  if (info.Length() < 1 || napi_typeof(env, info[0], &type) != napi_ok || type != napi_function) {
    return Throw(env, false, "setCompletionSink(fn)");
  }
  if (sink_ != nullptr) napi_delete_reference(env, sink_);
  sink_ = nullptr;
  napi_create_reference(env, info[0], 1, &sink_);
  return Napi::Value();
}

Napi::Value Binding::CompileProfile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return Throw(env, false, "compileProfile(options)");
  if (!set_up_) return Throw(env, false, "compileProfile() needs setup() first");
  Napi::Object o = info[0].As<Napi::Object>();
  auto profile = std::make_shared<Profile>();
  profile->timeout_ms = static_cast<long>(GetNumber(o, "timeoutMs", 1, protocol_.max_ms));
  profile->connect_timeout_ms =
      static_cast<long>(GetNumber(o, "connectTimeoutMs", 1, protocol_.max_ms));
  profile->max_response_bytes =
      static_cast<size_t>(GetNumber(o, "maxResponseBytes", 0, protocol_.max_response_bytes));
  profile->insecure = GetBool(o, "insecure");
  profile->http2 = GetBool(o, "http2");
  profile->verbose = GetBool(o, "verbose");
  profile->timings = GetBool(o, "timings");
  profile->user_agent = GetString(o, "userAgent");
  profile->ca_file = GetString(o, "caFile");
  profile->http_proxy = GetString(o, "httpProxy");
  profile->https_proxy = GetString(o, "httpsProxy");
  profile->body_headers = WithUserAgent(GetLines(o, "bodyHeaders"), profile->user_agent);
  profile->get_headers = WithUserAgent(GetLines(o, "getHeaders"), profile->user_agent);
  profile->connect_to = GetLines(o, "connectTo");
  if (!CopyNames(env, o.Get("traceSecrets"), &profile->trace_secrets)) {
    throw Napi::TypeError::New(env, "traceSecrets must be an array of header names or undefined");
  }

  auto* holder = new ProfileRef(std::move(profile));
  napi_value external;
  napi_status status = napi_create_external(
      env, holder, [](napi_env, void* data, void*) { delete static_cast<ProfileRef*>(data); },
      nullptr, &external);
  if (status != napi_ok) {
    delete holder;
    return Throw(env, false, "cannot create a profile");
  }
  napi_type_tag_object(env, external, &kProfileTag);
  return Napi::Value(env, external);
}

Napi::Value Binding::Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return Throw(env, false, "configure(limits)");
  if (!set_up_) return Throw(env, false, "configure() needs setup() first");
  Channel* channel = link_->channel;
  if (channel == nullptr) return env.Undefined();
  Napi::Object o = info[0].As<Napi::Object>();
  ConnectionLimits limits;
  limits.max_host_connections =
      static_cast<long>(GetNumber(o, "maxHostConnections", 1, protocol_.max_limit));
  limits.max_total_connections =
      static_cast<long>(GetNumber(o, "maxTotalConnections", 1, protocol_.max_limit));
  const long max_in_flight = static_cast<long>(GetNumber(o, "maxInFlight", 1, protocol_.max_limit));
  const Napi::Value initial = o.Get("initial");
  channel->SetConnectionLimits(limits, initial.IsBoolean() && initial.As<Napi::Boolean>().Value());
  channel->SetMaxInFlight(max_in_flight);
  return env.Undefined();
}

Napi::Value Binding::CloseIdle(const Napi::CallbackInfo& info) {
  Channel* channel = link_->channel;
  if (channel != nullptr) channel->CloseIdle();
  return info.Env().Undefined();
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
  Channel* channel = link_->channel;
  if (channel == nullptr) return out;
  const PumpStats s = channel->Stats();
  auto number = [&env](double d) { return Napi::Number::New(env, d); };
  out.Set("submitted", number(static_cast<double>(s.submitted)));
  out.Set("settled", number(static_cast<double>(s.settled)));
  out.Set("pending", number(static_cast<double>(s.pending)));
  out.Set("pumpRuns", number(static_cast<double>(s.runs)));
  out.Set("batches", number(static_cast<double>(s.batches)));
  out.Set("wakeups", number(static_cast<double>(s.wakeups)));
  out.Set("rings", number(static_cast<double>(s.rings)));
  out.Set("pumpRunning", Napi::Boolean::New(env, s.running));
  out.Set("threads", number(s.threads));
  out.Set("maxThreads", number(s.max_threads));
  out.Set("cpuMs", number(static_cast<double>(s.cpu_ns) / 1e6));
  out.Set("environments", number(static_cast<double>(s.environments)));
  const memory::Counts m = memory::Stats();
  out.Set("buffersReused", number(static_cast<double>(m.reused)));
  out.Set("bufferBytesKept", number(static_cast<double>(m.kept)));
  Napi::Object mine = Napi::Object::New(env);
  mine.Set("submitted", number(static_cast<double>(channel->submitted())));
  mine.Set("pending", number(static_cast<double>(channel->pending())));
  out.Set("environment", mine);
  return out;
}

Napi::Value Binding::Halt(const Napi::CallbackInfo& info) {
  Pump::HaltProcess();
  return info.Env().Undefined();
}

// A finished transfer that needs more than three numbers: a failure, a Retry-After, or a caller
// that asked for the response.
napi_value Binding::ResponseHeaders(napi_env env, const Transfer& t) {
  napi_value headers = nullptr;
  // Header bytes are Latin-1 on the wire (Node's http reads them so too).
  napi_create_string_latin1(env, t.response_headers.data(), t.response_headers.size(), &headers);
  return headers;
}

napi_value Binding::ResponseBody(napi_env env, const Transfer& t) {
  napi_value body = nullptr;
  if (t.flags & kBinaryBody) {
    void* copy = nullptr;
    napi_create_buffer_copy(env, t.response_body.size(), t.response_body.data(), &copy, &body);
    return body;
  }
  return String(env, t.response_body);
}

napi_value Binding::Detail(napi_env env, const Transfer& t) {
  napi_value d;
  if (napi_create_object(env, &d) != napi_ok) return nullptr;
  if (t.result != CURLE_OK) {
    SetNamed(env, d, "code", String(env, ErrorCode(t)));
    SetNamed(env, d, "curlCode", Number(env, static_cast<double>(t.result)));
    SetNamed(env, d, "message", String(env, ErrorMessage(t, protocol_.curl_texts)));
    if (t.status > 0) SetNamed(env, d, "statusCode", Number(env, static_cast<double>(t.status)));
  }
  if (!t.retry_after.empty()) SetNamed(env, d, "retryAfter", String(env, t.retry_after));
  if (t.flags & kKeepResponse) {
    SetNamed(env, d, "headers", ResponseHeaders(env, t));
    SetNamed(env, d, "body", ResponseBody(env, t));
    if (t.truncated) {
      napi_value yes;
      napi_get_boolean(env, true, &yes);
      SetNamed(env, d, "truncated", yes);
    }
  }
  if (t.profile->timings) {
    napi_value timings;
    if (napi_create_array_with_length(env, 5, &timings) == napi_ok) {
      for (uint32_t i = 0; i < 5; ++i)
        napi_set_element(env, timings, i, Number(env, t.timing_ms[i]));
      SetNamed(env, d, "timings", timings);
    }
  }
  return d;
}

// The Float64Array a batch's numbers go into: one, kept while it is big enough (a new ArrayBuffer
// for every batch cost more than the rest of the hand-back). The sink reads it during its call
// only, so the next batch may write over it. Null if it cannot be had.
napi_value Binding::NumbersArray(napi_env env, size_t size) {
  napi_value numbers = nullptr;
  if (numbers_ref_ != nullptr && size <= numbers_capacity_) {
    if (napi_get_reference_value(env, numbers_ref_, &numbers) != napi_ok) return nullptr;
    return numbers;
  }
  const size_t capacity = std::max({size, 2 * numbers_capacity_, kMinNumbers});
  void* data = nullptr;
  napi_value buffer;
  if (napi_create_arraybuffer(env, capacity * sizeof(double), &data, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, capacity, buffer, 0, &numbers) != napi_ok) {
    return nullptr;
  }
  napi_ref ref = nullptr;
  if (napi_create_reference(env, numbers, 1, &ref) != napi_ok) return nullptr;
  if (numbers_ref_ != nullptr) napi_delete_reference(env, numbers_ref_);
  numbers_ref_ = ref;
  numbers_data_ = static_cast<double*>(data);
  numbers_capacity_ = capacity;
  return numbers;
}

// Runs from a libuv callback: nothing may throw from here, and during an environment's teardown
// every N-API call may fail — then the batch is simply dropped (nobody is left to hear of it).
void Binding::OnCompleted(TransferBatch* batch) {
  napi_env env = env_;
  if (sink_ == nullptr || batch->empty()) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  batch_.Clear();
  napi_value details = nullptr;
  uint32_t detail_count = 0;
  bool ok = true;
  for (std::unique_ptr<Transfer>& t : *batch) {
    const double status = t->result == CURLE_OK ? static_cast<double>(t->status) : 0;
    const double bytes_sent = static_cast<double>(t->bytes_sent);
    const bool plain = t->result == CURLE_OK && t->status >= 200 && t->status < 300 &&
                       t->retry_after.empty() && !(t->flags & kKeepResponse) &&
                       !t->profile->timings;
    // Just the response (dispatchEvent's common case): no detail object (each named property
    // costs), its header block in the batch's one header text, its body in `details` only when
    // there is one.
    const bool response_only = t->result == CURLE_OK && (t->flags & kKeepResponse) &&
                               t->retry_after.empty() && !t->truncated && !t->profile->timings;
    if (response_only && ok) {
      double body_index = -1;
      if (!t->response_body.empty() || (t->flags & kBinaryBody)) {
        napi_value body = nullptr;
        if ((details == nullptr && napi_create_array(env, &details) != napi_ok) ||
            (body = ResponseBody(env, *t)) == nullptr ||
            napi_set_element(env, details, detail_count, body) != napi_ok) {
          ok = false;
        } else {
          body_index = detail_count++;
        }
      }
      batch_.Response(t->id, status, bytes_sent, t->response_headers, body_index);
    } else if (!plain && ok) {
      if (details == nullptr && napi_create_array(env, &details) != napi_ok) ok = false;
      napi_value d = ok ? Detail(env, *t) : nullptr;
      if (d == nullptr || napi_set_element(env, details, detail_count, d) != napi_ok) {
        ok = false;
        batch_.Plain(t->id, status, bytes_sent);
      } else {
        batch_.Detailed(t->id, status, bytes_sent, detail_count++);
      }
    } else {
      batch_.Plain(t->id, status, bytes_sent);
    }
    Recycle(std::move(t));
  }
  const size_t count = batch_.count();
  napi_value header_text = nullptr;
  const std::string& text = batch_.header_text();
  // Header bytes are Latin-1 on the wire (Node's http reads them so too).
  if (ok && batch_.has_spans() &&
      napi_create_string_latin1(env, text.data(), text.size(), &header_text) != napi_ok) {
    ok = false;
  }
  if (!ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
  napi_value numbers = NumbersArray(env, batch_.size());
  napi_value undefined;
  napi_value sink;
  napi_value resource;
  napi_get_undefined(env, &undefined);
  if (numbers == nullptr || napi_get_reference_value(env, sink_, &sink) != napi_ok ||
      sink == nullptr || napi_get_reference_value(env, resource_, &resource) != napi_ok ||
      resource == nullptr) {
    napi_close_handle_scope(env, scope);
    return;
  }
  batch_.CopyTo(numbers_data_);
  // One callback scope per batch: promise reactions run once, after every result in the batch.
  napi_callback_scope callback_scope;
  if (napi_open_callback_scope(env, resource, async_context_, &callback_scope) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return;
  }
  napi_value argv[4] = {numbers, details != nullptr ? details : undefined,
                        header_text != nullptr ? header_text : undefined, Number(env, count)};
  napi_value result;
  if (napi_call_function(env, undefined, sink, 4, argv, &result) != napi_ok) {
    bool pending = false;
    napi_value exception;
    // A bug in the JS sink: report it like any uncaught exception. (In a teardown nothing is
    // pending: JS just cannot run any more.)
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
      napi_fatal_exception(env, exception);
    }
  }
  napi_close_callback_scope(env, callback_scope);
  napi_close_handle_scope(env, scope);
}

}  // namespace ned
