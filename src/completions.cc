#include "completions.h"

#include <cstring>

namespace ned {

void BatchEncoder::Response(double id, double status, double bytes_sent, const std::string& headers,
                            double body_index) {
  // d = -2 - the span's number: the reader finds the span at count * kStride + kSpan * (-d - 2).
  Row(id, status, bytes_sent, -2 - static_cast<double>(spans_.size() / kSpan));
  spans_.push_back(static_cast<double>(header_text_.size()));
  header_text_ += headers;
  spans_.push_back(static_cast<double>(header_text_.size()));
  spans_.push_back(body_index);
}

void BatchEncoder::CopyTo(double* out) const {
  std::memcpy(out, numbers_.data(), numbers_.size() * sizeof(double));
  if (!spans_.empty()) {
    std::memcpy(out + numbers_.size(), spans_.data(), spans_.size() * sizeof(double));
  }
}

}  // namespace ned
