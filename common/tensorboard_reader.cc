#include "common/tensorboard_reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "common/crc32c.h"
#include "common/error.h"

namespace qosroute {
namespace {

// Thrown inside the decoder and turned into a UserError that names the file and record.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

uint64_t LittleEndian(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

// A bounds-checked cursor over one protobuf message; the bytes must outlive it.
class WireReader {
 public:
  explicit WireReader(const std::string& bytes) : p_(bytes.data()), end_(p_ + bytes.size()) {}
  explicit WireReader(std::string&&) = delete;  // would dangle
  bool AtEnd() const { return p_ == end_; }

  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      Need(1);
      const auto byte = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    throw DecodeError("varint longer than 10 bytes");
  }
  uint64_t Fixed(int bytes) {
    Need(bytes);
    const uint64_t v = LittleEndian(p_, bytes);
    p_ += bytes;
    return v;
  }
  std::string Bytes() {
    const uint64_t n = Varint();
    Need(n);
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  // Skips a field this reader does not decode.
  void Skip(int wire_type) {
    switch (wire_type) {
      case 0:
        Varint();
        break;
      case 1:
        Fixed(8);
        break;
      case 2:
        Bytes();
        break;
      case 5:
        Fixed(4);
        break;
      default:
        throw DecodeError("unsupported wire type " + std::to_string(wire_type));
    }
  }

 private:
  void Need(uint64_t n) const {
    if (n > static_cast<uint64_t>(end_ - p_)) throw DecodeError("message ends inside a field");
  }
  const char* p_;
  const char* end_;
};

void Expect(int wire_type, int want, const char* field) {
  if (wire_type != want) {
    throw DecodeError(std::string("field ") + field + " has wire type " +
                      std::to_string(wire_type) + ", expected " + std::to_string(want));
  }
}

void DecodeValue(const std::string& bytes, TensorBoardEvent* event) {
  WireReader in(bytes);
  std::string tag;
  float value = 0.0f;
  bool has_value = false;
  while (!in.AtEnd()) {
    const uint64_t key = in.Varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1) {
      Expect(wire, 2, "Summary.Value.tag");
      tag = in.Bytes();
    } else if (field == 2) {
      Expect(wire, 5, "Summary.Value.simple_value");
      const auto bits = static_cast<uint32_t>(in.Fixed(4));
      std::memcpy(&value, &bits, sizeof(value));
      has_value = true;
    } else {
      in.Skip(wire);
    }
  }
  // Values without simple_value are images, histograms, ...: not scalars.
  if (has_value) event->scalars.emplace_back(tag, value);
}

TensorBoardEvent DecodeEvent(const std::string& bytes) {
  TensorBoardEvent event;
  WireReader in(bytes);
  while (!in.AtEnd()) {
    const uint64_t key = in.Varint();
    const int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1) {
      Expect(wire, 1, "Event.wall_time");
      const uint64_t bits = in.Fixed(8);
      std::memcpy(&event.wall_time, &bits, sizeof(bits));
    } else if (field == 2) {
      Expect(wire, 0, "Event.step");
      event.step = static_cast<int64_t>(in.Varint());
    } else if (field == 3) {
      Expect(wire, 2, "Event.file_version");
      event.file_version = in.Bytes();
    } else if (field == 5) {
      Expect(wire, 2, "Event.summary");
      const std::string summary_bytes = in.Bytes();  // WireReader only points into it
      WireReader summary(summary_bytes);
      while (!summary.AtEnd()) {
        const uint64_t skey = summary.Varint();
        if ((skey >> 3) == 1 && (skey & 7) == 2) {
          DecodeValue(summary.Bytes(), &event);
        } else {
          summary.Skip(static_cast<int>(skey & 7));
        }
      }
    } else if (field == 6) {
      Expect(wire, 2, "Event.session_log");
      const std::string log_bytes = in.Bytes();
      WireReader log(log_bytes);
      while (!log.AtEnd()) {
        const uint64_t lkey = log.Varint();
        if ((lkey >> 3) == 1 && (lkey & 7) == 0) {
          event.session_status = static_cast<int>(log.Varint());
        } else {
          log.Skip(static_cast<int>(lkey & 7));
        }
      }
    } else {
      in.Skip(wire);
    }
  }
  return event;
}

}  // namespace

std::vector<TensorBoardEvent> ReadTensorBoardEvents(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw UserError("cannot open TensorBoard event file " + path);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw UserError("cannot read TensorBoard event file " + path);

  std::vector<TensorBoardEvent> events;
  size_t pos = 0;
  for (size_t index = 0; pos < bytes.size(); ++index) {
    const std::string where =
        "TensorBoard event file " + path + ", record " + std::to_string(index);
    const size_t left = bytes.size() - pos;
    if (left < 12) throw UserError(where + ": truncated header");
    const char* p = bytes.data() + pos;
    const uint64_t length = LittleEndian(p, 8);
    if (static_cast<uint32_t>(LittleEndian(p + 8, 4)) != MaskedCrc32c(p, 8)) {
      throw UserError(where + ": length CRC mismatch");
    }
    if (left < 16 || length > left - 16) throw UserError(where + ": truncated data");
    const uint32_t data_crc = static_cast<uint32_t>(LittleEndian(p + 12 + length, 4));
    if (data_crc != MaskedCrc32c(p + 12, length)) throw UserError(where + ": data CRC mismatch");
    try {
      events.push_back(DecodeEvent(std::string(p + 12, length)));
    } catch (const DecodeError& e) {
      throw UserError(where + ": malformed Event: " + e.what());
    }
    pos += 16 + length;
  }
  return events;
}

std::vector<std::string> ListTensorBoardEventFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() &&
        it->path().filename().string().find("tfevents") != std::string::npos) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace qosroute
