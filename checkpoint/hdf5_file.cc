#include "checkpoint/hdf5_file.h"

#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <type_traits>
#include <utility>

#include "checkpoint/hdf5_id.h"
#include "common/error.h"

namespace qosroute::h5 {

// The header keeps hid_t out by storing identifiers as int64_t, which is what hid_t is since
// HDF5 1.10.
static_assert(std::is_same<hid_t, int64_t>::value, "hid_t is expected to be a 64-bit integer");

namespace {

// Chunks of about this size: large enough that per-chunk overhead (index entry, checksum,
// filter call) is negligible, small enough to stay inside HDF5's default chunk cache.
constexpr uint64_t kChunkBytes = 1 << 20;

// Each element type's HDF5 types: as stored (little-endian, whatever the host) and in memory,
// and the name an error message gives it.
template <typename T>
struct TypeOf;
#define QR_H5_TYPE(T, FILE_TYPE, NATIVE_TYPE, NAME) \
  template <>                                       \
  struct TypeOf<T> {                                \
    static hid_t File() { return FILE_TYPE; }       \
    static hid_t Native() { return NATIVE_TYPE; }   \
    static constexpr const char* kName = NAME;      \
  }
QR_H5_TYPE(float, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, "float32");
QR_H5_TYPE(double, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, "float64");
QR_H5_TYPE(int32_t, H5T_STD_I32LE, H5T_NATIVE_INT32, "int32");
QR_H5_TYPE(int64_t, H5T_STD_I64LE, H5T_NATIVE_INT64, "int64");
QR_H5_TYPE(uint64_t, H5T_STD_U64LE, H5T_NATIVE_UINT64, "uint64");
QR_H5_TYPE(uint8_t, H5T_STD_U8LE, H5T_NATIVE_UINT8, "uint8");
#undef QR_H5_TYPE

uint64_t Product(const Dims& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

Id MakeSpace(const Dims& dims) {
  if (dims.empty()) return Id(H5Screate(H5S_SCALAR), H5Sclose);
  const std::vector<hsize_t> h(dims.begin(), dims.end());
  return Id(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr), H5Sclose);
}

Dims SpaceDims(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return {};
  std::vector<hsize_t> h(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, h.data(), nullptr);
  return Dims(h.begin(), h.end());
}

std::string ClassName(hid_t type) {
  const H5T_class_t c = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (c == H5T_FLOAT) return size == 4 ? "float32" : size == 8 ? "float64" : "other";
  if (c == H5T_STRING) return "string";
  if (c == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    return (is_signed ? "int" : "uint") + std::to_string(8 * size);
  }
  return "other";
}

// Dataset creation properties for `bytes` of data with shape `dims` of `element` bytes each.
Id CreationProperties(const Dims& dims, uint64_t element, int compression_level) {
  Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // No modification times in object headers: the same state gives the same bytes.
  H5Pset_obj_track_times(dcpl.get(), false);
  const uint64_t count = Product(dims);
  const uint64_t bytes = count * element;
  if (count == 0) return dcpl;  // nothing stored: default (contiguous) layout
  if (bytes <= kCompactBytes) {
    H5Pset_layout(dcpl.get(), H5D_COMPACT);
    return dcpl;
  }
  // Chunk along the first axis only, whole rows: a reader of one row range touches few chunks.
  std::vector<hsize_t> chunk(dims.begin(), dims.end());
  if (chunk.empty()) chunk = {1};
  const uint64_t row_bytes = std::max<uint64_t>(1, bytes / chunk[0]);
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(chunk[0], kChunkBytes / row_bytes));
  H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  if (compression_level > 0) {
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(compression_level));
  }
  // Last in the pipeline, so the checksum covers exactly the bytes on disk.
  H5Pset_fletcher32(dcpl.get());
  return dcpl;
}

std::vector<std::string> SplitPath(const std::string& name) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(name);
  while (std::getline(in, part, '/')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

void SilenceErrors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string FormatDims(const Dims& dims) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < dims.size(); ++i) out << (i > 0 ? ", " : "") << dims[i];
  out << "]";
  return out.str();
}

// ----------------------------------------------------------------------------------- Writer

Writer::Writer(const std::string& path, std::string what, int compression_level)
    : path_(path), what_(std::move(what)), compression_level_(compression_level) {
  SilenceErrors();
  if (compression_level_ > 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) {
    throw UserError("cannot write " + what_ +
                    ": this HDF5 library has no deflate filter (set checkpoint.compression = 0)");
  }
  Id access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // The 1.10 format checksums superblock, object headers and chunk indexes.
  H5Pset_libver_bounds(access.get(), H5F_LIBVER_V110, H5F_LIBVER_LATEST);
  // Compact link and attribute storage at any size (the root group's through the file's
  // properties).
  constexpr unsigned kMaxCompactLinks = 65535;
  Id creation(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  // Attributes likewise (the default moves a 9th attribute into the heap).
  for (hid_t properties : {creation.get(), group_properties_ = H5Pcreate(H5P_GROUP_CREATE)}) {
    H5Pset_link_phase_change(properties, kMaxCompactLinks, kMaxCompactLinks);
    H5Pset_attr_phase_change(properties, kMaxCompactLinks, kMaxCompactLinks);
  }
  file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, creation.get(), access.get());
  if (file_ < 0) Fail("cannot create the file (does its folder exist and is it writable?)");
  link_properties_ = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(link_properties_, 1);
}

Writer::~Writer() {
  if (link_properties_ >= 0) H5Pclose(link_properties_);
  if (group_properties_ >= 0) H5Pclose(group_properties_);
  if (file_ >= 0) H5Fclose(file_);
}

void Writer::Fail(const std::string& what) const {
  throw UserError("cannot write " + what_ + ": " + what);
}

int64_t Writer::OpenObject(const std::string& object) const {
  const hid_t id = H5Oopen(file_, object.c_str(), H5P_DEFAULT);
  if (id < 0) Fail("cannot open " + object);
  return id;
}

void Writer::Group(const std::string& name) {
  CreateParents(name);
  Id group(H5Gcreate2(file_, name.c_str(), H5P_DEFAULT, group_properties_, H5P_DEFAULT), H5Gclose);
  if (!group.ok()) Fail("cannot create group " + name);
}

void Writer::CreateParents(const std::string& name) {
  const std::vector<std::string> parts = SplitPath(name);
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix += "/" + parts[i];
    if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) > 0) continue;
    Id group(H5Gcreate2(file_, prefix.c_str(), H5P_DEFAULT, group_properties_, H5P_DEFAULT),
             H5Gclose);
    if (!group.ok()) Fail("cannot create group " + prefix);
  }
}

template <typename T>
void Writer::Write(const std::string& name, const T* data, const Dims& dims) {
  CreateParents(name);
  Id space = MakeSpace(dims);
  Id dcpl = CreationProperties(dims, sizeof(T), compression_level_);
  Id dataset(H5Dcreate2(file_, name.c_str(), TypeOf<T>::File(), space.get(), link_properties_,
                        dcpl.get(), H5P_DEFAULT),
             H5Dclose);
  if (!dataset.ok()) Fail("cannot create dataset " + name);
  if (Product(dims) == 0) return;
  if (H5Dwrite(dataset.get(), TypeOf<T>::Native(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    Fail("cannot write dataset " + name + " (disk full?)");
  }
}

void Writer::Text(const std::string& name, const std::string& text) {
  CreateParents(name);
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  const size_t size = std::max<size_t>(1, text.size());  // HDF5 has no zero-length strings
  H5Tset_size(type.get(), size);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  const Dims dims{1};
  Id space = MakeSpace(dims);
  Id dcpl = CreationProperties(dims, size, compression_level_);
  Id dataset(H5Dcreate2(file_, name.c_str(), type.get(), space.get(), link_properties_, dcpl.get(),
                        H5P_DEFAULT),
             H5Dclose);
  std::string buffer = text;
  buffer.resize(size, '\0');
  if (!dataset.ok() ||
      H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
    Fail("cannot write dataset " + name);
  }
}

void Writer::WriteAttribute(const std::string& object, const char* name, int64_t file_type,
                            int64_t space, int64_t memory_type, const void* data) {
  Id target(OpenObject(object), H5Oclose);
  Id attr(H5Acreate2(target.get(), name, file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || (data != nullptr && H5Awrite(attr.get(), memory_type, data) < 0)) {
    Fail("cannot write attribute " + object + "@" + name);
  }
}

void Writer::Attribute(const std::string& object, const char* name, int64_t value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  WriteAttribute(object, name, H5T_STD_I64LE, space.get(), H5T_NATIVE_INT64, &value);
}

void Writer::Attribute(const std::string& object, const char* name, double value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  WriteAttribute(object, name, H5T_IEEE_F64LE, space.get(), H5T_NATIVE_DOUBLE, &value);
}

void Writer::Attribute(const std::string& object, const char* name, const std::string& value) {
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  std::string buffer = value;
  buffer.resize(std::max<size_t>(1, value.size()), '\0');
  WriteAttribute(object, name, type.get(), space.get(), type.get(), buffer.data());
}

void Writer::Attribute(const std::string& object, const char* name,
                       const std::vector<int64_t>& values) {
  Id space = MakeSpace(Dims{values.size()});
  // An empty attribute is created with nothing to write.
  WriteAttribute(object, name, H5T_STD_I64LE, space.get(), H5T_NATIVE_INT64,
                 values.empty() ? nullptr : values.data());
}

void Writer::Flush() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) Fail("cannot flush the file (disk full?)");
}

void Writer::Close() {
  if (link_properties_ >= 0) H5Pclose(link_properties_);
  link_properties_ = -1;
  const hid_t file = file_;
  file_ = -1;
  if (H5Fclose(file) < 0) Fail("cannot close the file (disk full?)");
}

// ----------------------------------------------------------------------------------- Reader

Reader::Reader(const std::string& path, std::string what) : path_(path), what_(std::move(what)) {
  SilenceErrors();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw UserError(what_ + " does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) Fail("not an HDF5 file");
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) Fail("cannot be opened: a truncated or damaged HDF5 file");
}

Reader::~Reader() {
  if (file_ >= 0) H5Fclose(file_);
}

void Reader::Fail(const std::string& what) const {
  throw UserError(what_ + ": " + what);
}

bool Reader::Has(const std::string& name) const {
  // H5Lexists needs every parent to exist, so walk down one component at a time.
  std::string prefix;
  for (const std::string& part : SplitPath(name)) {
    const std::string parent = prefix.empty() ? "/" : prefix;
    prefix += "/" + part;
    const htri_t exists = H5Lexists(file_, prefix.c_str(), H5P_DEFAULT);
    // An error here (rather than "no") means the parent's header failed its checksum.
    if (exists < 0) Fail(parent + " is damaged (checksum mismatch or data cut off)");
    if (exists == 0) return false;
  }
  return true;
}

void Reader::CheckAttributeExists(int64_t object_id, const std::string& object,
                                  const char* name) const {
  const htri_t exists = H5Aexists(object_id, name);
  if (exists < 0)
    Fail("attribute " + object + "@" + name + " is damaged (checksum mismatch or data cut off)");
  if (exists == 0) Fail("attribute " + object + "@" + name + " is missing");
}

int64_t Reader::OpenObject(const std::string& object) const {
  if (object != "/" && !Has(object)) Fail(object + " is missing");
  const hid_t id = H5Oopen(file_, object.c_str(), H5P_DEFAULT);
  if (id < 0) Fail(object + " is damaged (checksum mismatch or data cut off)");
  return id;
}

int64_t Reader::OpenDataset(const std::string& name) const {
  if (!Has(name)) Fail("dataset " + name + " is missing");
  const hid_t id = H5Dopen2(file_, name.c_str(), H5P_DEFAULT);
  if (id < 0) Fail("dataset " + name + " is damaged or not a dataset");
  return id;
}

Dims Reader::Shape(const std::string& name) const {
  Id dataset(OpenDataset(name), H5Dclose);
  Id space(H5Dget_space(dataset.get()), H5Sclose);
  return SpaceDims(space.get());
}

std::string Reader::TypeName(const std::string& name) const {
  Id dataset(OpenDataset(name), H5Dclose);
  Id type(H5Dget_type(dataset.get()), H5Tclose);
  return ClassName(type.get());
}

template <typename T>
void Reader::ReadInto(const std::string& name, const Dims& dims, T* out) const {
  Id dataset(OpenDataset(name), H5Dclose);
  Id type(H5Dget_type(dataset.get()), H5Tclose);
  if (H5Tequal(type.get(), TypeOf<T>::File()) <= 0) {
    Fail("dataset " + name + " holds " + ClassName(type.get()) + " values where " +
         TypeOf<T>::kName + " is expected");
  }
  Id space(H5Dget_space(dataset.get()), H5Sclose);
  const Dims file_dims = SpaceDims(space.get());
  if (file_dims != dims) {
    Fail("dataset " + name + " has shape " + FormatDims(file_dims) + " where " + FormatDims(dims) +
         " is expected");
  }
  if (Product(dims) == 0) return;
  if (H5Dread(dataset.get(), TypeOf<T>::Native(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
    Fail("dataset " + name + " is damaged (checksum mismatch or data cut off)");
  }
}

template <typename T>
std::vector<T> Reader::Read(const std::string& name, const Dims& dims) const {
  std::vector<T> values(Product(dims));
  ReadInto(name, dims, values.data());
  return values;
}

template <typename T>
std::vector<T> Reader::ReadAnyShape(const std::string& name, Dims* dims) const {
  *dims = Shape(name);
  return Read<T>(name, *dims);
}

std::string Reader::Text(const std::string& name) const {
  Id dataset(OpenDataset(name), H5Dclose);
  Id type(H5Dget_type(dataset.get()), H5Tclose);
  Id space(H5Dget_space(dataset.get()), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0 ||
      H5Sget_simple_extent_npoints(space.get()) != 1) {
    Fail("dataset " + name + " is not one fixed-length string");
  }
  std::string buffer(H5Tget_size(type.get()), '\0');
  if (H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
    Fail("dataset " + name + " is damaged (checksum mismatch or data cut off)");
  }
  return buffer.substr(0, buffer.find('\0'));
}

bool Reader::HasAttribute(const std::string& object, const char* name) const {
  Id target(OpenObject(object), H5Oclose);
  const htri_t exists = H5Aexists(target.get(), name);
  if (exists < 0)
    Fail("attribute " + object + "@" + name + " is damaged (checksum mismatch or data cut off)");
  return exists > 0;
}

int64_t Reader::IntAttribute(const std::string& object, const char* name) const {
  const std::vector<int64_t> values = IntsAttribute(object, name);
  if (values.size() != 1) {
    Fail("attribute " + object + "@" + name + " has " + std::to_string(values.size()) +
         " values where one is expected");
  }
  return values[0];
}

int64_t Reader::IntAttributeOr(const std::string& object, const char* name, int64_t absent) const {
  return HasAttribute(object, name) ? IntAttribute(object, name) : absent;
}

std::vector<int64_t> Reader::IntsAttribute(const std::string& object, const char* name) const {
  Id target(OpenObject(object), H5Oclose);
  CheckAttributeExists(target.get(), object, name);
  Id attr(H5Aopen(target.get(), name, H5P_DEFAULT), H5Aclose);
  Id type(H5Aget_type(attr.get()), H5Tclose);
  Id space(H5Aget_space(attr.get()), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_INTEGER || count < 0) {
    Fail("attribute " + object + "@" + name + " is not an integer");
  }
  std::vector<int64_t> values(static_cast<size_t>(count));
  if (count > 0 && H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()) < 0) {
    Fail("attribute " + object + "@" + name + " is unreadable");
  }
  return values;
}

double Reader::DoubleAttribute(const std::string& object, const char* name) const {
  Id target(OpenObject(object), H5Oclose);
  CheckAttributeExists(target.get(), object, name);
  Id attr(H5Aopen(target.get(), name, H5P_DEFAULT), H5Aclose);
  Id type(H5Aget_type(attr.get()), H5Tclose);
  Id space(H5Aget_space(attr.get()), H5Sclose);
  double value = 0.0;
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_FLOAT ||
      H5Sget_simple_extent_npoints(space.get()) != 1 ||
      H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) < 0) {
    Fail("attribute " + object + "@" + name + " is not one floating-point number");
  }
  return value;
}

std::string Reader::StringAttribute(const std::string& object, const char* name) const {
  Id target(OpenObject(object), H5Oclose);
  CheckAttributeExists(target.get(), object, name);
  Id attr(H5Aopen(target.get(), name, H5P_DEFAULT), H5Aclose);
  Id type(H5Aget_type(attr.get()), H5Tclose);
  if (!attr.ok() || H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
    Fail("attribute " + object + "@" + name + " is not a fixed-length string");
  }
  std::string buffer(H5Tget_size(type.get()), '\0');
  if (H5Aread(attr.get(), type.get(), buffer.data()) < 0)
    Fail("attribute " + object + "@" + name + " is unreadable");
  return buffer.substr(0, buffer.find('\0'));
}

std::vector<std::string> Reader::Children(const std::string& group) const {
  Id g(OpenObject(group), H5Oclose);
  H5G_info_t info;
  if (H5Iget_type(g.get()) != H5I_GROUP || H5Gget_info(g.get(), &info) < 0)
    Fail(group + " is not a readable group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t size =
        H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (size < 0) Fail(group + " has an unreadable member");
    std::string name(static_cast<size_t>(size) + 1, '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<size_t>(size));
    names.push_back(name);
  }
  return names;
}

std::vector<std::string> Reader::DatasetsBelow(const std::string& group) const {
  std::vector<std::string> out;
  for (const std::string& child : Children(group)) {
    const std::string path = (group == "/" ? "" : group) + "/" + child;
    Id object(OpenObject(path), H5Oclose);
    const H5I_type_t kind = H5Iget_type(object.get());
    if (kind == H5I_GROUP) {
      const std::vector<std::string> below = DatasetsBelow(path);
      out.insert(out.end(), below.begin(), below.end());
    } else if (kind == H5I_DATASET) {
      out.push_back(path);
    }
  }
  return out;
}

uint64_t Reader::StoredBytes(const std::string& name) const {
  Id dataset(OpenDataset(name), H5Dclose);
  return H5Dget_storage_size(dataset.get());
}

uint64_t Reader::LogicalBytes(const std::string& name) const {
  Id dataset(OpenDataset(name), H5Dclose);
  Id type(H5Dget_type(dataset.get()), H5Tclose);
  Id space(H5Dget_space(dataset.get()), H5Sclose);
  return static_cast<uint64_t>(H5Sget_simple_extent_npoints(space.get())) * H5Tget_size(type.get());
}

void Reader::VerifyAttributes(int64_t object_id, const std::string& object) const {
  H5O_info_t info;
  if (H5Oget_info2(object_id, &info, H5O_INFO_NUM_ATTRS) < 0)
    Fail(object + " is damaged (checksum mismatch or data cut off)");
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Id attr(H5Aopen_by_idx(object_id, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose);
    Id type(attr.ok() ? H5Aget_type(attr.get()) : -1, H5Tclose);
    Id space(attr.ok() ? H5Aget_space(attr.get()) : -1, H5Sclose);
    const hssize_t count = space.ok() ? H5Sget_simple_extent_npoints(space.get()) : -1;
    std::vector<char> buffer(count > 0 && type.ok() ? count * H5Tget_size(type.get()) : 0);
    if (!type.ok() || count < 0 ||
        (!buffer.empty() && H5Aread(attr.get(), type.get(), buffer.data()) < 0)) {
      Fail("attribute " + std::to_string(i) + " of " + object +
           " is damaged (checksum mismatch or data cut off)");
    }
  }
}

void Reader::VerifyEverything() const {
  std::vector<std::string> pending{"/"};
  while (!pending.empty()) {
    const std::string object = pending.back();
    pending.pop_back();
    Id id(OpenObject(object), H5Oclose);
    VerifyAttributes(id.get(), object);
    if (H5Iget_type(id.get()) == H5I_GROUP) {
      for (const std::string& child : Children(object))
        pending.push_back((object == "/" ? "" : object) + "/" + child);
      continue;
    }
    if (H5Iget_type(id.get()) != H5I_DATASET) continue;
    // The file's own type: every value is read back as stored, checksums included.
    Id type(H5Dget_type(id.get()), H5Tclose);
    Id space(H5Dget_space(id.get()), H5Sclose);
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (!type.ok() || count < 0) Fail("dataset " + object + " is damaged or not a dataset");
    std::vector<char> buffer(static_cast<size_t>(count) * H5Tget_size(type.get()));
    if (!buffer.empty() &&
        H5Dread(id.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0) {
      Fail("dataset " + object + " is damaged (checksum mismatch or data cut off)");
    }
  }
}

#define QOSROUTE_H5_INSTANTIATE(T)                                                \
  template void Writer::Write<T>(const std::string&, const T*, const Dims&);      \
  template void Reader::ReadInto<T>(const std::string&, const Dims&, T*) const;   \
  template std::vector<T> Reader::Read<T>(const std::string&, const Dims&) const; \
  template std::vector<T> Reader::ReadAnyShape<T>(const std::string&, Dims*) const;
QOSROUTE_H5_INSTANTIATE(float)
QOSROUTE_H5_INSTANTIATE(double)
QOSROUTE_H5_INSTANTIATE(int32_t)
QOSROUTE_H5_INSTANTIATE(int64_t)
QOSROUTE_H5_INSTANTIATE(uint64_t)
QOSROUTE_H5_INSTANTIATE(uint8_t)
#undef QOSROUTE_H5_INSTANTIATE

}  // namespace qosroute::h5
