#include "common/tensorboard_writer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/crc32c.h"
#include "common/error.h"

namespace qosroute {
namespace {

// Protobuf wire types used here.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLengthDelimited = 2;
constexpr int kFixed32 = 5;

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutKey(std::string* out, int field, int wire_type) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

// Byte by byte, so the file is little endian whatever the host's order.
void PutLittleEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutBytesField(std::string* out, int field, const std::string& bytes) {
  PutKey(out, field, kLengthDelimited);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

void PutDoubleField(std::string* out, int field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  PutKey(out, field, kFixed64);
  PutLittleEndian(out, bits, 8);
}

void PutFloatField(std::string* out, int field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  PutKey(out, field, kFixed32);
  PutLittleEndian(out, bits, 4);
}

// int64 (not sint64) in event.proto: a negative step is the two's complement as a 10-byte
// varint, which is what the cast to uint64 gives.
void PutInt64Field(std::string* out, int field, int64_t v) {
  PutKey(out, field, kVarint);
  PutVarint(out, static_cast<uint64_t>(v));
}

std::string FileVersionEvent(double wall_time) {
  std::string event;
  PutDoubleField(&event, 1, wall_time);
  PutBytesField(&event, 3, "brain.Event:2");
  return event;
}

std::string ScalarEvent(double wall_time, int64_t step, const std::string& tag, float value) {
  std::string summary_value;
  PutBytesField(&summary_value, 1, tag);
  PutFloatField(&summary_value, 2, value);
  std::string summary;
  PutBytesField(&summary, 1, summary_value);
  std::string event;
  PutDoubleField(&event, 1, wall_time);
  // Written even when 0: proto3 would omit it, but readers default it to 0 either way.
  PutInt64Field(&event, 2, step);
  PutBytesField(&event, 5, summary);
  return event;
}

// Event.session_log = 6: SessionLog{status = 1 (START = 1)}.
std::string SessionStartEvent(double wall_time, int64_t step) {
  std::string session_log;
  PutKey(&session_log, 1, kVarint);
  PutVarint(&session_log, 1);
  std::string event;
  PutDoubleField(&event, 1, wall_time);
  PutInt64Field(&event, 2, step);
  PutBytesField(&event, 6, session_log);
  return event;
}

std::string HostName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "localhost";
  return host;
}

}  // namespace

double TensorBoardWriter::SystemClock() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir, Clock clock)
    : clock_(std::move(clock)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw UserError("cannot create TensorBoard folder " + dir +
                    (ec ? ": " + ec.message() : std::string(": not a folder")));
  }
  const double now = clock_();
  const std::string base =
      (fs::path(dir) / ("events.out.tfevents." +
                        std::to_string(static_cast<int64_t>(std::floor(now))) + "." + HostName()))
          .string();
  // "x" (C11, exclusive create) so a second writer in the same second never truncates the
  // first one's file.
  for (int suffix = 0; file_ == nullptr; ++suffix) {
    path_ = suffix == 0 ? base : base + "." + std::to_string(suffix);
    file_ = std::fopen(path_.c_str(), "wbx");
    if (file_ == nullptr && (errno != EEXIST || suffix >= 1000)) Fail("cannot create");
  }
  try {
    WriteRecord(FileVersionEvent(now));
    Flush();
  } catch (...) {
    // The destructor does not run when the constructor throws.
    std::fclose(file_);
    throw;
  }
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ == nullptr) return;
  if (std::fclose(file_) != 0) {
    spdlog::warn("closing TensorBoard event file {} failed: {}", path_, std::strerror(errno));
  }
}

void TensorBoardWriter::AddScalar(const std::string& tag, double value, int64_t step) {
  WriteRecord(ScalarEvent(clock_(), step, tag, static_cast<float>(value)));
}

void TensorBoardWriter::AddSessionStart(int64_t step) {
  WriteRecord(SessionStartEvent(clock_(), step));
}

void TensorBoardWriter::Flush() {
  if (std::fflush(file_) != 0) Fail("cannot flush");
}

void TensorBoardWriter::WriteRecord(const std::string& data) {
  std::string header;
  PutLittleEndian(&header, data.size(), 8);
  std::string record = header;
  PutLittleEndian(&record, MaskedCrc32c(header.data(), header.size()), 4);
  record.append(data);
  PutLittleEndian(&record, MaskedCrc32c(data.data(), data.size()), 4);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) Fail("cannot write");
}

void TensorBoardWriter::Fail(const std::string& what) const {
  const int err = errno;  // before any allocation below can change it
  throw UserError(what + " TensorBoard event file " + path_ + ": " + std::strerror(err));
}

}  // namespace qosroute
