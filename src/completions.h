// The completion batches handed to JS, packed as lib/transport/protocol.js reads them (its
// decodeBatch(), where the layout is described): per completion [id, statusCode, bytesSent, d],
// then the spans of responses handed back without a detail object. The only writer of that layout
// in C++; the fallback's BatchEncoder makes the same calls in JS.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ned {

class BatchEncoder {
 public:
  // The packing's shape; setup() checks lib/'s STRIDE and SPAN against it.
  static constexpr size_t kStride = 4;  // id, statusCode, bytesSent, d
  static constexpr size_t kSpan = 3;    // headers start, headers end, body index

  // Starts a batch; keeps the buffers' capacity (a batch is packed for every wake-up).
  void Clear() {
    numbers_.clear();
    spans_.clear();
    header_text_.clear();
  }
  // A plain answer: nothing but the numbers.
  void Plain(double id, double status, double bytes_sent) { Row(id, status, bytes_sent, -1); }
  // A result with a detail object, at `detail_index` in the batch's details.
  void Detailed(double id, double status, double bytes_sent, double detail_index) {
    Row(id, status, bytes_sent, detail_index);
  }
  // Just the response the caller asked for: its header block joins the batch's header text, its
  // body is at `body_index` in the batch's details (-1: none).
  void Response(double id, double status, double bytes_sent, const std::string& headers,
                double body_index);

  size_t count() const { return numbers_.size() / kStride; }
  bool empty() const { return numbers_.empty(); }
  bool has_spans() const { return !spans_.empty(); }
  // Numbers in the packed array: the completions', then the spans'.
  size_t size() const { return numbers_.size() + spans_.size(); }
  // Writes the size() numbers to `out`.
  void CopyTo(double* out) const;
  // The responses' header blocks, end to end (Latin-1 bytes, as on the wire).
  const std::string& header_text() const { return header_text_; }

 private:
  void Row(double id, double status, double bytes_sent, double d) {
    numbers_.push_back(id);
    numbers_.push_back(status);
    numbers_.push_back(bytes_sent);
    numbers_.push_back(d);
  }

  std::vector<double> numbers_;
  std::vector<double> spans_;
  std::string header_text_;
};

}  // namespace ned
