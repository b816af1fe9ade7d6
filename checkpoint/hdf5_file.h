#pragma once
// Whole-dataset HDF5 reads and writes for checkpoints and policy files (the one HDF5 layer
// of the project), with every failure turned into one UserError naming the file and the
// object. No torch and no HDF5 type here, so that only
// checkpoint_hdf5.cc compiles against hdf5.h.
//
// Integrity. Files use the HDF5 1.10 format (superblock, object headers and chunk indexes
// carry checksums). Small datasets (up to kCompactBytes) are stored inside their object
// header, which is checksummed; larger ones are chunked with the Fletcher-32 filter, so a
// flipped bit anywhere a reader looks makes the read fail instead of returning wrong numbers.
// A compression level > 0 adds shuffle + deflate to the chunked ones. Groups keep their links
// and attributes in their object header ("compact" storage, never the dense form): HDF5 1.10
// does not checksum the fractal heap of dense storage, and damage there crashed the library
// instead of failing a read (a damaged policy file with ~100 parameters in one group).
//
// The HDF5 C library is not thread-safe: use these from one thread at a time.
#include <cstdint>
#include <string>
#include <vector>

namespace qosroute::h5 {

using Dims = std::vector<uint64_t>;

// Datasets up to this many bytes live in their object header (no chunking, no filters).
constexpr uint64_t kCompactBytes = 16 * 1024;

// Switches off HDF5's automatic error-stack printing: every failure is reported as a
// UserError instead.
void SilenceErrors();

std::string FormatDims(const Dims& dims);

class Writer {
 public:
  // Creates (truncates) `path`. `what` names the file in messages, e.g. "checkpoint x.h5".
  Writer(const std::string& path, std::string what, int compression_level);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer();

  // Creates a group and any missing parents ("/a/b/c").
  void Group(const std::string& name);

  // One dataset written with a single call; missing parent groups are created. Supported T:
  // float, double, int32_t, int64_t, uint64_t, uint8_t. Empty `dims` means a scalar.
  template <typename T>
  void Write(const std::string& name, const T* data, const Dims& dims);
  template <typename T>
  void Write(const std::string& name, const std::vector<T>& values) {
    Write(name, values.data(), Dims{values.size()});
  }
  // Text as a one-element array of a fixed-length string (h5py: ds[0].decode()).
  void Text(const std::string& name, const std::string& text);

  // Attributes on an existing object ("/" is the file).
  void Attribute(const std::string& object, const char* name, int64_t value);
  void Attribute(const std::string& object, const char* name, double value);
  void Attribute(const std::string& object, const char* name, const std::string& value);
  void Attribute(const std::string& object, const char* name, const std::vector<int64_t>& values);

  // Writes everything buffered to the file (used before an injected kill in tests).
  void Flush();
  // Closes the file; errors here mean the file is incomplete.
  void Close();

 private:
  // Creates attribute `name` of `file_type` over `space` on `object` and writes `data` (in
  // `memory_type`; nullptr: nothing to write); Fail names object@name.
  void WriteAttribute(const std::string& object, const char* name, int64_t file_type, int64_t space,
                      int64_t memory_type, const void* data);
  int64_t OpenObject(const std::string& object) const;
  // Creates the missing groups on the way to `name` (not `name` itself).
  void CreateParents(const std::string& name);
  [[noreturn]] void Fail(const std::string& what) const;

  std::string path_, what_;
  int compression_level_;
  int64_t file_ = -1;
  int64_t link_properties_ = -1;
  int64_t group_properties_ = -1;  // links kept in the (checksummed) object header
};

class Reader {
 public:
  // Opens `path` read-only: UserError when it does not exist, is not HDF5, or is damaged.
  Reader(const std::string& path, std::string what);
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader();

  const std::string& path() const { return path_; }
  bool Has(const std::string& name) const;
  // Dims of a dataset ({} for a scalar); UserError when it is missing or not a dataset.
  Dims Shape(const std::string& name) const;
  // Reads a whole dataset whose element type must be T's and whose shape must be `dims`.
  template <typename T>
  void ReadInto(const std::string& name, const Dims& dims, T* out) const;
  template <typename T>
  std::vector<T> Read(const std::string& name, const Dims& dims) const;
  // Reads a whole dataset of any shape; *dims receives it.
  template <typename T>
  std::vector<T> ReadAnyShape(const std::string& name, Dims* dims) const;
  // Element type of a dataset: "float32", "float64", "int32", "int64", "uint64", "uint8",
  // "string" or "other".
  std::string TypeName(const std::string& name) const;
  std::string Text(const std::string& name) const;

  // Whether `object` (which must exist) has the attribute `name`.
  bool HasAttribute(const std::string& object, const char* name) const;
  int64_t IntAttribute(const std::string& object, const char* name) const;
  // IntAttribute, or `absent` when the object lacks it (an attribute added after files of
  // the same format version were written).
  int64_t IntAttributeOr(const std::string& object, const char* name, int64_t absent) const;
  double DoubleAttribute(const std::string& object, const char* name) const;
  std::string StringAttribute(const std::string& object, const char* name) const;
  std::vector<int64_t> IntsAttribute(const std::string& object, const char* name) const;

  // Names of a group's members, in name order.
  std::vector<std::string> Children(const std::string& group) const;
  // Every dataset below `group` (paths relative to the file), depth first in name order.
  std::vector<std::string> DatasetsBelow(const std::string& group) const;
  // Bytes a dataset occupies in the file (after filters) and in memory.
  uint64_t StoredBytes(const std::string& name) const;
  uint64_t LogicalBytes(const std::string& name) const;

  // Reads every attribute and every dataset of the file, whatever its type, so that each
  // checksum (object headers, chunk indexes, Fletcher-32 of every chunk) is checked once:
  // UserError naming the first damaged object. Costs one full read of the file.
  void VerifyEverything() const;

 private:
  void VerifyAttributes(int64_t object_id, const std::string& object) const;
  int64_t OpenObject(const std::string& object) const;
  int64_t OpenDataset(const std::string& name) const;
  void CheckAttributeExists(int64_t object_id, const std::string& object, const char* name) const;
  [[noreturn]] void Fail(const std::string& what) const;

  std::string path_, what_;
  int64_t file_ = -1;
};

}  // namespace qosroute::h5
