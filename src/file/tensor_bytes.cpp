// TensorBytes: one aligned allocation holds a slice's shape and owned bytes.
#include "file/tensor_bytes_access.hpp"

#include <cstring>
#include <new>
#include <utility>

namespace sft {

namespace {

constexpr std::align_val_t kAlign{TensorBytes::alignment};

Error out_of_memory(std::uint64_t n, std::string_view tensor) {
  return Error(Errc::out_of_memory, "cannot allocate " + std::to_string(n) + " bytes", Error::no_offset,
               std::string(tensor));
}

}  // namespace

TensorBytes::TensorBytes(TensorBytes&& o) noexcept
    : info_(std::exchange(o.info_, nullptr)), bytes_(std::exchange(o.bytes_, {})),
      shape_(std::exchange(o.shape_, {})), storage_(std::exchange(o.storage_, nullptr)),
      owned_(std::exchange(o.owned_, false)) {}

TensorBytes& TensorBytes::operator=(TensorBytes&& o) noexcept {
  if (this != &o) {
    release();
    info_ = std::exchange(o.info_, nullptr);
    bytes_ = std::exchange(o.bytes_, {});
    shape_ = std::exchange(o.shape_, {});
    storage_ = std::exchange(o.storage_, nullptr);
    owned_ = std::exchange(o.owned_, false);
  }
  return *this;
}

TensorBytes::~TensorBytes() { release(); }

void TensorBytes::release() noexcept {
  if (storage_) ::operator delete(storage_, kAlign);
  storage_ = nullptr;
}

Result<TensorBytes> TensorBytes::to_owned() const { return view().to_owned(); }

Result<TensorBytes> TensorView::to_owned() const {
  const std::span<const std::uint64_t> shape = shape_;
  // A whole tensor keeps pointing at its header's shape; a slice copies its own.
  const bool whole = shape.data() == info_->shape.data() && shape.size() == info_->shape.size();
  SFT_TRY_ASSIGN(auto out, detail::TensorBytesAccess::allocate(*info_, whole ? nullptr : &shape, bytes_.size()));
  if (!bytes_.empty()) std::memcpy(detail::TensorBytesAccess::writable(out).data(), bytes_.data(), bytes_.size());
  return out;
}

namespace detail {

TensorBytes TensorBytesAccess::view(const TensorInfo& info, std::span<const std::byte> bytes) noexcept {
  TensorBytes t;
  t.info_ = &info;
  t.bytes_ = bytes;
  t.shape_ = info.shape;
  return t;
}

namespace {

// One allocation: the shape's dims (if any) first, the bytes at the next
// multiple of the alignment. Returns null on failure or overflow.
void* allocate_storage(std::size_t dims, std::uint64_t n, std::size_t& data_at) noexcept {
  const std::size_t a = TensorBytes::alignment;
  data_at = (dims * sizeof(std::uint64_t) + a - 1) / a * a;
  if (n > SIZE_MAX - data_at) return nullptr;
  const std::size_t total = data_at + static_cast<std::size_t>(n);
  return ::operator new(total == 0 ? 1 : total, kAlign, std::nothrow);
}

}  // namespace

Result<TensorBytes> TensorBytesAccess::view(const TensorInfo& info, std::span<const std::uint64_t> shape,
                                            std::span<const std::byte> bytes) {
  std::size_t data_at = 0;
  void* p = allocate_storage(shape.size(), 0, data_at);
  if (!p) return out_of_memory(shape.size() * sizeof(std::uint64_t), info.name);
  auto* dims = static_cast<std::uint64_t*>(p);
  if (!shape.empty()) std::memcpy(dims, shape.data(), shape.size_bytes());
  TensorBytes t;
  t.info_ = &info;
  t.storage_ = p;
  t.shape_ = {dims, shape.size()};
  t.bytes_ = bytes;
  return t;
}

Result<TensorBytes> TensorBytesAccess::allocate(const TensorInfo& info, const std::span<const std::uint64_t>* shape,
                                                std::uint64_t n) {
  std::size_t data_at = 0;
  const std::size_t dims = shape ? shape->size() : 0;
  void* p = allocate_storage(dims, n, data_at);
  if (!p) return out_of_memory(n, info.name);
  TensorBytes t;
  t.info_ = &info;
  t.storage_ = p;
  t.owned_ = true;
  if (shape) {
    auto* d = static_cast<std::uint64_t*>(p);
    if (dims) std::memcpy(d, shape->data(), dims * sizeof(std::uint64_t));
    t.shape_ = {d, dims};
  } else {
    t.shape_ = info.shape;
  }
  t.bytes_ = {static_cast<std::byte*>(p) + data_at, static_cast<std::size_t>(n)};
  return t;
}

}  // namespace detail

}  // namespace sft
