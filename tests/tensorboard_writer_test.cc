// TensorBoardWriter against hand-computed bytes and the reader, and the reader against
// corrupted files. The CRC vectors are the standard ones (RFC 3720 B.4 for CRC32C); the
// masked CRC of a 24-byte length header, 0x224b7fa3, is the "a3 7f 4b 22" every TensorFlow
// event file starts with after its length.
#include "common/tensorboard_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "common/crc32c.h"
#include "common/error.h"
#include "common/tensorboard_reader.h"
#include "tests/scratch_dir.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

std::string Scratch(const std::string& name) {
  return test_util::FreshDirUnder(test_util::ScratchRoot("tensorboard_writer_test"), name);
}

void WriteWholeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A clock that starts at `start` and advances by `step` seconds on every reading.
TensorBoardWriter::Clock SteppingClock(double start, double step) {
  auto next = std::make_shared<double>(start);
  return [next, step] {
    const double now = *next;
    *next += step;
    return now;
  };
}

// Writes the file_version record and one scalar, returning the file's path.
std::string WriteSmallFile(const std::string& dir) {
  TensorBoardWriter writer(dir, SteppingClock(100.0, 1.0));
  writer.AddScalar("loss", 0.5, 7);
  return writer.path();
}

// Expects `f` to throw a UserError whose message contains every one of `parts`.
template <typename F>
void ExpectUserError(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no UserError thrown";
  } catch (const UserError& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << part << "' not in: " << e.what();
  }
}

TEST(Crc32c, StandardVectors) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0').data(), 32), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xFF').data(), 32), 0x62A8AB43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(ascending.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32c, MaskRotatesAndAddsTheConstant) {
  // ((0xE3069283 >> 15) | (0xE3069283 << 17)) + 0xa282ead8, modulo 2^32.
  EXPECT_EQ(MaskCrc32c(0xE3069283u), 0xC78AB0E5u);
  EXPECT_EQ(MaskedCrc32c("123456789", 9), 0xC78AB0E5u);
  EXPECT_EQ(MaskCrc32c(0u), 0xA282EAD8u);
  const char length24[8] = {24, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(MaskedCrc32c(length24, 8), 0x224B7FA3u);
}

TEST(TensorBoardWriter, ScalarsReadBackExactly) {
  const std::string dir = Scratch("roundtrip") + "/not/yet/there";
  struct Scalar {
    std::string tag;
    double value;
    int64_t step;
  };
  const std::vector<Scalar> scalars = {{"loss", 0.5, 0},
                                       {"loss", -3.25, 1},
                                       {"reward/mean", 1e6, 300},
                                       {"reward/mean", -0.1, int64_t{5000000000}},
                                       {"x", 0.0, -7}};
  std::string path;
  {
    TensorBoardWriter writer(dir, SteppingClock(1700000000.25, 0.5));
    for (const auto& s : scalars) writer.AddScalar(s.tag, s.value, s.step);
    path = writer.path();
  }
  const auto events = ReadTensorBoardEvents(path);
  ASSERT_EQ(events.size(), scalars.size() + 1);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[0].wall_time, 1700000000.25);
  EXPECT_EQ(events[0].step, 0);
  EXPECT_TRUE(events[0].scalars.empty());
  for (size_t i = 0; i < scalars.size(); ++i) {
    const auto& e = events[i + 1];
    EXPECT_EQ(e.wall_time, 1700000000.25 + 0.5 * (i + 1)) << i;
    EXPECT_EQ(e.step, scalars[i].step) << i;
    EXPECT_EQ(e.file_version, "") << i;
    ASSERT_EQ(e.scalars.size(), 1u) << i;
    EXPECT_EQ(e.scalars[0].first, scalars[i].tag) << i;
    EXPECT_EQ(e.scalars[0].second, static_cast<float>(scalars[i].value)) << i;
  }
}

TEST(TensorBoardWriter, FileNameHasSecondsAndHostAndIsNeverReused) {
  const std::string dir = Scratch("names");
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  TensorBoardWriter first(dir, SteppingClock(1700000000.9, 0.0));
  EXPECT_EQ(first.path(),
            (fs::path(dir) / ("events.out.tfevents.1700000000." + std::string(host))).string());
  EXPECT_TRUE(
      std::regex_search(first.path(), std::regex(R"(/events\.out\.tfevents\.\d+\.[^/]+$)")));
  first.AddScalar("a", 1.0, 1);
  first.Flush();
  // A second writer in the same second gets its own file; the first one's stays intact.
  TensorBoardWriter second(dir, SteppingClock(1700000000.9, 0.0));
  EXPECT_EQ(second.path(), first.path() + ".1");
  EXPECT_EQ(ListTensorBoardEventFiles(dir),
            (std::vector<std::string>{first.path(), second.path()}));
  EXPECT_EQ(ReadTensorBoardEvents(first.path()).size(), 2u);
}

TEST(TensorBoardWriter, FlushMakesRecordsVisibleBeforeClose) {
  TensorBoardWriter writer(Scratch("flush"), SteppingClock(5.0, 1.0));
  EXPECT_EQ(ReadTensorBoardEvents(writer.path()).size(), 1u);  // file_version, flushed at once
  writer.AddScalar("a", 2.0, 3);
  writer.Flush();
  const auto events = ReadTensorBoardEvents(writer.path());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].step, 3);
}

TEST(TensorBoardWriter, SessionStartIsASessionLogEventAtItsStep) {
  std::string path;
  {
    TensorBoardWriter writer(Scratch("session"), [] { return 2.0; });
    writer.AddSessionStart(1200);
    writer.AddScalar("a", 0.25, 1201);
    path = writer.path();
  }
  const auto events = ReadTensorBoardEvents(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].session_status, 1);  // START
  EXPECT_EQ(events[1].step, 1200);
  EXPECT_TRUE(events[1].scalars.empty());
  EXPECT_EQ(events[2].session_status, 0);
  // Event{wall_time = 2.0, step = 1200, session_log{status = START}}: the record's bytes.
  const std::string bytes = test_util::ReadWholeFile(path);
  const std::string expected = std::string("\x09\0\0\0\0\0\0\0\x40", 9) +
                               std::string("\x10\xb0\x09", 3) +  // 1200 = 0b1001_0110000
                               std::string("\x32\x02\x08\x01", 4);
  EXPECT_NE(bytes.find(expected), std::string::npos);
}

TEST(TensorBoardWriter, BytesMatchTheHandEncodedRecords) {
  std::string path;
  {
    TensorBoardWriter writer(Scratch("bytes"), [] { return 1.0; });
    writer.AddScalar("a", 1.0, 300);
    path = writer.path();
  }
  // Record 1: Event{wall_time = 1.0, file_version = "brain.Event:2"}, 24 bytes.
  const std::string length24("\x18\0\0\0\0\0\0\0\xa3\x7f\x4b\x22", 12);
  const std::string wall_time_1("\x09\0\0\0\0\0\0\xf0\x3f", 9);  // key 1/fixed64, 1.0 LE
  const std::string version = wall_time_1 +
                              "\x1a\x0d"
                              "brain.Event:2";
  const std::string version_crc("\x86\xbf\x57\x7a", 4);  // masked CRC32C 0x7a57bf86
  // Record 2: Event{wall_time = 1.0, step = 300, summary{value{tag = "a", simple_value = 1}}}.
  const std::string step_300("\x10\xac\x02", 3);  // key 2/varint; 300 = 0b10_0101100
  const std::string value(
      "\x0a\x01"
      "a\x15\0\0\x80\x3f",
      8);  // tag "a", key 2/fixed32, 1.0f LE
  const std::string summary = std::string("\x2a\x0a\x0a\x08", 4) + value;
  const std::string scalar = wall_time_1 + step_300 + summary;
  const std::string scalar_crc("\xcf\xed\xa3\x19", 4);  // masked CRC32C 0x19a3edcf
  ASSERT_EQ(version.size(), 24u);
  ASSERT_EQ(scalar.size(), 24u);
  EXPECT_EQ(test_util::ReadWholeFile(path),
            length24 + version + version_crc + length24 + scalar + scalar_crc);
}

TEST(TensorBoardReader, CorruptedDataByteThrowsNamingFileAndRecord) {
  const std::string path = WriteSmallFile(Scratch("corrupt"));
  std::string bytes = test_util::ReadWholeFile(path);
  bytes[40 + 12 + 5] ^= 0x01;  // inside record 1's data (record 0 is 40 bytes)
  WriteWholeFile(path, bytes);
  ExpectUserError([&] { ReadTensorBoardEvents(path); }, {path, "record 1", "data CRC"});
}

TEST(TensorBoardReader, CorruptedLengthThrows) {
  const std::string path = WriteSmallFile(Scratch("length"));
  std::string bytes = test_util::ReadWholeFile(path);
  bytes[0] = 0x19;
  WriteWholeFile(path, bytes);
  ExpectUserError([&] { ReadTensorBoardEvents(path); }, {path, "record 0", "length CRC"});
}

TEST(TensorBoardReader, TruncatedFileThrows) {
  const std::string path = WriteSmallFile(Scratch("truncated"));
  const std::string bytes = test_util::ReadWholeFile(path);
  WriteWholeFile(path, bytes.substr(0, bytes.size() - 1));
  ExpectUserError([&] { ReadTensorBoardEvents(path); }, {path, "record 1", "truncated"});
  WriteWholeFile(path, bytes.substr(0, 40 + 10));
  ExpectUserError([&] { ReadTensorBoardEvents(path); }, {path, "record 1", "truncated header"});
  WriteWholeFile(path, bytes.substr(0, 40));
  EXPECT_EQ(ReadTensorBoardEvents(path).size(), 1u);  // whole records only: fine
}

TEST(TensorBoardReader, MissingFileThrows) {
  const std::string path = Scratch("missing") + "/events.out.tfevents.1.h";
  ExpectUserError([&] { ReadTensorBoardEvents(path); }, {path});
  EXPECT_TRUE(ListTensorBoardEventFiles(Scratch("missing") + "/nope").empty());
}

TEST(TensorBoardWriter, UncreatableFolderThrowsNamingIt) {
  const std::string blocker = Scratch("blocked") + "/file";
  WriteWholeFile(blocker, "x");
  const std::string dir = blocker + "/sub";
  ExpectUserError([&] { TensorBoardWriter writer(dir); }, {dir});
}

}  // namespace
}  // namespace qosroute
