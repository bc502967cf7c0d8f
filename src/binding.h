// The JS-facing side of one Node environment: copies JS values into plain C++ structs, queues them
// on the environment's pump, and settles the promises when the pump hands transfers back.
// Everything here runs on the environment's main thread.
#pragma once

#include <napi.h>

#include <memory>
#include <vector>

#include "pump.h"
#include "request.h"

namespace ned {

class Binding : public Napi::Addon<Binding>, public CompletionSink {
 public:
  Binding(Napi::Env env, Napi::Object exports);
  ~Binding() override;

  void OnCompleted(TransferBatch* batch) override;

 private:
  // dispatch(verbCode, url, host, https, body, profile, site) -> Promise<{statusCode, headers,
  // body}>
  Napi::Value Dispatch(const Napi::CallbackInfo& info);
  // send(verbCode, url, host, https, body, profile, id): like dispatch, without a promise; the
  // result goes to the completion sink with `id` (the dispatcher's path: one JS call per batch).
  Napi::Value Send(const Napi::CallbackInfo& info);
  // setCompletionSink(fn): fn(done: Float64Array [id, status, bodyBytes, ...] of 2xx answers,
  // others: Array of { id, bytes, statusCode, retryAfter, error }), once per batch of completions.
  Napi::Value SetCompletionSink(const Napi::CallbackInfo& info);
  // compileProfile({ timeoutMs, ..., bodyHeaders: string[], getHeaders: string[] }) -> External
  Napi::Value CompileProfile(const Napi::CallbackInfo& info);
  // configure({ maxHostConnections, maxTotalConnections })
  Napi::Value Configure(const Napi::CallbackInfo& info);
  Napi::Value Versions(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  // halt(): process 'exit' — stop the pump so the threadpool can be joined.
  Napi::Value Halt(const Napi::CallbackInfo& info);
  // setErrorClass(DispatchError): the class C++ constructs for failed transfers.
  Napi::Value SetErrorClass(const Napi::CallbackInfo& info);

  std::unique_ptr<Transfer> NewTransfer();
  std::unique_ptr<Transfer> ReadRequest(const Napi::CallbackInfo& info);
  Napi::Value SinkRecord(Napi::Env env, const Transfer& t);
  void Recycle(std::unique_ptr<Transfer> t);
  void SettleBatch(TransferBatch* batch);
  void Settle(Napi::Env env, Transfer* t);
  static void OnEnvironmentCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  Pump* pump_ = nullptr;  // owned by itself once shut down; see Pump::Shutdown
  Napi::FunctionReference error_class_;
  Napi::FunctionReference sink_;
  std::vector<double> sink_done_;  // reused between batches
  Napi::AsyncContext async_context_;
  std::vector<std::unique_ptr<Transfer>> spare_;
  napi_async_cleanup_hook_handle cleanup_handle_ = nullptr;
};

}  // namespace ned
