#pragma once
// Plain little-endian byte streams for state snapshots and transition records. The reader
// checks every read against the buffer end, so a truncated snapshot is an error, not UB.
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace qosroute {

class ByteWriter {
 public:
  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable<T>::value, "Put needs a trivially copyable type");
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <typename T>
  void PutVector(const std::vector<T>& values) {
    Put<uint64_t>(values.size());
    const auto* p = reinterpret_cast<const uint8_t*>(values.data());
    bytes_.insert(bytes_.end(), p, p + values.size() * sizeof(T));
  }
  void PutString(const std::string& s);
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  explicit ByteReader(const std::vector<uint8_t>& bytes) : ByteReader(bytes.data(), bytes.size()) {}

  template <typename T>
  T Get() {
    static_assert(std::is_trivially_copyable<T>::value, "Get needs a trivially copyable type");
    T value;
    Need(sizeof(T));
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  template <typename T>
  std::vector<T> GetVector() {
    const uint64_t n = Get<uint64_t>();
    Need(n * sizeof(T));
    std::vector<T> values(n);
    // memcpy's pointers must be non-null even for zero bytes (an empty vector's data() may be).
    if (n > 0) std::memcpy(values.data(), data_ + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return values;
  }
  std::string GetString();
  bool AtEnd() const { return pos_ == size_; }
  size_t remaining() const { return size_ - pos_; }
  size_t position() const { return pos_; }

 private:
  void Need(size_t n) const;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Visitors for a component's field list (Visit(fields, f) calls f(field) in order): the one
// list serves both directions, so what Save writes and Load reads cannot drift apart.
struct PutEach {
  ByteWriter* out;
  template <typename T>
  void operator()(const T& value) const {
    out->Put(value);
  }
};
struct GetEach {
  ByteReader* in;
  template <typename T>
  void operator()(T& value) const {
    value = in->Get<T>();
  }
};

}  // namespace qosroute
