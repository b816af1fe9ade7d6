#include "common/bytes.h"

#include "common/error.h"

namespace qosroute {

void ByteWriter::PutString(const std::string& s) {
  Put<uint64_t>(s.size());
  bytes_.insert(bytes_.end(), s.begin(), s.end());
}

std::string ByteReader::GetString() {
  const uint64_t n = Get<uint64_t>();
  Need(n);
  std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
  pos_ += n;
  return s;
}

void ByteReader::Need(size_t n) const {
  if (n > size_ - pos_) {
    throw UserError("state snapshot is truncated: needed " + std::to_string(n) +
                    " bytes at offset " + std::to_string(pos_) + " of " + std::to_string(size_));
  }
}

}  // namespace qosroute
