// The JS-facing side of one Node environment: copies JS values into plain C++ transfers, hands
// them to the process's pump through this environment's Channel, and passes finished transfers to
// the JS completion sink in batches. Everything here runs on the environment's own thread.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "completions.h"
#include "errors.h"
#include "pump.h"
#include "request.h"

namespace ned {

class Binding : public Napi::Addon<Binding>, public CompletionSink {
 public:
  Binding(Napi::Env env, Napi::Object exports);
  ~Binding() override;

  void OnCompleted(TransferBatch* batch) override;

 private:
  // setup({ methods, flags, maxMs, maxResponseBytes, maxLimit, errorCodes, curlTexts }): what
  // lib/ defines and the addon must know (lib/transport/protocol.js, failures.js), once, before
  // anything else.
  Napi::Value Setup(const Napi::CallbackInfo& info);
  // submit(id, verbCode, url, body, profile, headers, flags, traceSecrets?): queues one transfer
  // and returns the body's size in bytes (UTF-8 for text). Its result reaches the completion sink
  // under `id`. traceSecrets: with the trace on, the secret header names among `headers`.
  Napi::Value Submit(const Napi::CallbackInfo& info);
  // abort(id): the transfer, queued or in flight, ends with libcurl code 42 (EABORTED).
  Napi::Value Abort(const Napi::CallbackInfo& info);
  // setCompletionSink(fn): fn(numbers: Float64Array [id, statusCode, bytesSent, detail, ...,
  // then the responses' spans], details: Array | undefined, headerText: string | undefined,
  // count), once per batch of completions (see lib/transport/completions.js).
  Napi::Value SetCompletionSink(const Napi::CallbackInfo& info);
  // compileProfile({ timeoutMs, ..., bodyHeaders: string[], getHeaders: string[],
  // traceSecrets?: string[] }) -> External
  Napi::Value CompileProfile(const Napi::CallbackInfo& info);
  // configure({ maxHostConnections, maxTotalConnections, maxInFlight })
  Napi::Value Configure(const Napi::CallbackInfo& info);
  // closeIdle(): the pump's idle connections close, once nothing is in flight (dispatcher close()).
  Napi::Value CloseIdle(const Napi::CallbackInfo& info);
  Napi::Value Versions(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // halt(): process 'exit' on the main thread — stop the pump so the threadpool can be joined.
  Napi::Value Halt(const Napi::CallbackInfo& info);
  // holdSlot(dir, held) -> bool: this environment holds a spool slot (or lets it go);
  // slotHeld(dir): whether anyone holds it now (see holds.h).
  Napi::Value HoldSlot(const Napi::CallbackInfo& info);
  Napi::Value SlotHeld(const Napi::CallbackInfo& info);

  // What this environment's cleanup hook and the binding share: either may go first.
  struct Link {
    Channel* channel = nullptr;
    bool binding_alive = true;
    bool hook_finished = false;
    napi_async_cleanup_hook_handle handle = nullptr;
  };
  static void OnEnvironmentCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  std::unique_ptr<Transfer> NewTransfer();
  void Recycle(std::unique_ptr<Transfer> t);
  napi_value Detail(napi_env env, const Transfer& t);
  static napi_value ResponseHeaders(napi_env env, const Transfer& t);
  static napi_value ResponseBody(napi_env env, const Transfer& t);
  napi_value NumbersArray(napi_env env, size_t size);

  // From setup(): lib/'s codes and limits.
  struct Protocol {
    std::vector<Verb> verbs;  // by verb code
    uint32_t response_flag = 0;
    uint32_t binary_flag = 0;
    uint32_t direct_flag = 0;
    double max_ms = 0;
    double max_response_bytes = 0;
    double max_limit = 0;
    CurlTexts curl_texts;
  };
  bool set_up_ = false;
  Protocol protocol_;

  Link* link_ = nullptr;
  napi_env env_;
  napi_ref sink_ = nullptr;
  napi_ref resource_ = nullptr;
  napi_async_context async_context_ = nullptr;
  BatchEncoder batch_;              // reused between batches
  napi_ref numbers_ref_ = nullptr;  // the Float64Array handed to the sink (NumbersArray)
  double* numbers_data_ = nullptr;
  size_t numbers_capacity_ = 0;
  std::vector<std::unique_ptr<Transfer>> spare_;
};

}  // namespace ned
