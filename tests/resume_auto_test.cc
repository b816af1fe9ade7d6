// `--resume auto`'s choice of checkpoint (checkpoint/resume_auto.h) on small HDF5 files made
// here: a damaged newest one (truncated, bits flipped in a checksummed chunk or in an object
// header) is set aside into damaged/ with its bytes kept, and the one before is chosen; when
// none is intact nothing is renamed. The end-to-end runs (one process, mpirun) are in
// checkpoint_cli_test and mpi_resume_test.sh.
#include "checkpoint/resume_auto.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "checkpoint/files.h"
#include "checkpoint/hdf5_file.h"
#include "common/error.h"
#include "scratch_dir.h"

namespace qosroute {
namespace {

namespace fs = std::filesystem;

std::string FreshRun(const std::string& name) {
  return test_util::FreshDirUnder(test_util::ScratchRoot("qosroute_resume_auto_test"), name);
}

// A checkpoint-shaped file: a large chunked dataset (Fletcher-32), a compact one, attributes.
void WriteCheckpoint(const std::string& run_dir, long updates) {
  fs::create_directories(CheckpointFolder(run_dir));
  const std::string path = CheckpointPath(run_dir, updates);
  h5::Writer w(path, "checkpoint " + path, 0);
  std::vector<float> big(200000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 977) * 0.5f;
  w.Write("/replay/values", big);
  w.Write("/agent/small", std::vector<int64_t>{1, 2, 3, updates});
  w.Attribute("/", "updates", static_cast<int64_t>(updates));
  w.Attribute("/agent", "name", std::string("han"));
  w.Close();
}

void FlipBytes(const std::string& path, uint64_t offset, int count) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  for (int i = 0; i < count; ++i) {
    f.seekg(static_cast<std::streamoff>(offset + i));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset + i));
    f.put(static_cast<char>(c ^ 0x5a));
  }
}

std::vector<std::string> Names(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ResumeAuto, NoCheckpointsMeansAFreshStart) {
  EXPECT_EQ(NewestIntactCheckpoint(FreshRun("empty")), "");
}

TEST(ResumeAuto, IntactFilesPassTheFullReadAndTheNewestIsChosen) {
  const std::string run = FreshRun("intact");
  for (long u : {100, 200, 300}) WriteCheckpoint(run, u);
  h5::Reader(CheckpointPath(run, 300), "x").VerifyEverything();  // no throw
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 300));
  EXPECT_FALSE(fs::exists(DamagedCheckpointFolder(run)));
}

TEST(ResumeAuto, TruncatedNewestIsSetAsideWithItsBytesAndTheOneBeforeIsChosen) {
  const std::string run = FreshRun("truncated");
  for (long u : {100, 200}) WriteCheckpoint(run, u);
  const std::string newest = CheckpointPath(run, 200);
  fs::resize_file(newest, fs::file_size(newest) / 2);
  const std::string bytes = test_util::ReadWholeFile(newest);
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 100));
  EXPECT_FALSE(fs::exists(newest));
  const std::string kept = (fs::path(DamagedCheckpointFolder(run)) / "ckpt_200.h5").string();
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_EQ(test_util::ReadWholeFile(kept), bytes) << "the damaged file must be kept as it was";
  // The next --resume auto finds the same intact checkpoint and sets nothing more aside.
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 100));
  EXPECT_EQ(Names(DamagedCheckpointFolder(run)), std::vector<std::string>{"ckpt_200.h5"});
}

TEST(ResumeAuto, FlippedBitsInsideTheDataAreFoundByTheChunkChecksums) {
  const std::string run = FreshRun("flipped_data");
  for (long u : {100, 200}) WriteCheckpoint(run, u);
  const std::string newest = CheckpointPath(run, 200);
  // The 800 kB dataset fills most of the file: its middle is chunk data.
  FlipBytes(newest, fs::file_size(newest) / 2, 16);
  // The file still opens: only reading every chunk finds the damage.
  const h5::Reader opened(newest, "checkpoint " + newest);
  try {
    opened.VerifyEverything();
    FAIL() << "flipped bytes went unnoticed";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("/replay/values is damaged"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 100));
  EXPECT_TRUE(fs::exists(fs::path(DamagedCheckpointFolder(run)) / "ckpt_200.h5"));
}

TEST(ResumeAuto, FlippedBitsInTheFirstObjectHeadersAreFound) {
  const std::string run = FreshRun("flipped_header");
  for (long u : {100, 200}) WriteCheckpoint(run, u);
  const std::string newest = CheckpointPath(run, 200);
  FlipBytes(newest, 48, 64);  // past the superblock's first fields: its checksum or a header
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 100));
}

TEST(ResumeAuto, EverythingDamagedIsOneErrorAndNothingIsRenamed) {
  const std::string run = FreshRun("all_damaged");
  for (long u : {100, 200}) {
    WriteCheckpoint(run, u);
    fs::resize_file(CheckpointPath(run, u), 100);
  }
  try {
    NewestIntactCheckpoint(run);
    FAIL() << "no error";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("every checkpoint"), std::string::npos) << what;
    EXPECT_NE(what.find(CheckpointPath(run, 100)), std::string::npos) << what;
    EXPECT_NE(what.find(CheckpointPath(run, 200)), std::string::npos) << what;
  }
  EXPECT_TRUE(fs::exists(CheckpointPath(run, 100)));
  EXPECT_TRUE(fs::exists(CheckpointPath(run, 200)));
  EXPECT_FALSE(fs::exists(DamagedCheckpointFolder(run)));
}

TEST(ResumeAuto, ASecondDamagedFileOfTheSameNameIsKeptBesideTheFirst) {
  const std::string run = FreshRun("same_name");
  for (long u : {100, 200}) WriteCheckpoint(run, u);
  fs::resize_file(CheckpointPath(run, 200), 1000);
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 100));
  WriteCheckpoint(run, 200);  // the resumed run writes ckpt_200 again, and it is damaged again
  fs::resize_file(CheckpointPath(run, 200), 2000);
  EXPECT_EQ(NewestIntactCheckpoint(run), CheckpointPath(run, 100));
  EXPECT_EQ(Names(DamagedCheckpointFolder(run)),
            (std::vector<std::string>{"ckpt_200.h5", "ckpt_200.h5.1"}));
  EXPECT_EQ(fs::file_size(fs::path(DamagedCheckpointFolder(run)) / "ckpt_200.h5.1"), 2000u);
}

}  // namespace
}  // namespace qosroute
