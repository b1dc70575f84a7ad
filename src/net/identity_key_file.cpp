// Key file: a serialized libp2p PrivateKey protobuf, the format go-libp2p and hivemind's p2pd
// identity files use. Blocking POSIX file I/O (startup only).

#include <cerrno>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hivemind/core/log.hpp"
#include "hivemind/net/error.hpp"
#include "hivemind/net/identity.hpp"

namespace hivemind::net {
namespace {

/// Closes a file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}

  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  ~FileDescriptor() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  int get() const noexcept { return fd_; }

  /// Closes now; false if close() reported an error (e.g. a deferred write failure).
  bool close() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

Result<Bytes> read_key_file(const std::filesystem::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return Err(NetErrc::kKeyFile);
  Bytes data;
  std::uint8_t buffer[1024];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Err(NetErrc::kKeyFile);
    if (n == 0)
      break;
    if (data.size() + static_cast<std::size_t>(n) > kMaxKeyFileSize)
      return Err(NetErrc::kKeyFile);
    data.insert(data.end(), buffer, buffer + n);
  }
  sodium_memzero(buffer, sizeof(buffer));
  return data;
}

bool write_all(int fd, BytesView data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

/// Writes `data` to a fresh temporary file beside `path` (0600), fsyncs it and renames it over
/// `path`, so that a crash leaves either no key file or a complete one.
Result<void> write_key_file_atomically(const std::filesystem::path& path, BytesView data) {
  std::string temp = path.string() + ".tmp.XXXXXX";
  FileDescriptor fd(::mkostemp(temp.data(), O_CLOEXEC));  // creates the file with mode 0600
  if (fd.get() < 0)
    return Err(NetErrc::kKeyFile);
  const bool written = ::fchmod(fd.get(), S_IRUSR | S_IWUSR) == 0 && write_all(fd.get(), data)
                       && ::fsync(fd.get()) == 0;
  if (!fd.close() || !written || ::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    return Err(NetErrc::kKeyFile);
  }
  // Persist the rename itself; failure here leaves a valid file, so it is not an error.
  const auto parent = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  FileDescriptor dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0)
    (void)::fsync(dir.get());
  return ok();
}

}  // namespace

Result<KeyPair> load_or_create_key_file(const std::filesystem::path& path) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (ec)
    return Err(NetErrc::kKeyFile);
  if (exists) {
    HM_TRY(auto data, read_key_file(path));
    auto pair = KeyPair::from_protobuf(data);
    sodium_memzero(data.data(), data.size());
    return pair;
  }
  KeyPair pair = KeyPair::generate();
  Bytes encoded = pair.to_protobuf();
  auto written = write_key_file_atomically(path, encoded);
  sodium_memzero(encoded.data(), encoded.size());
  if (!written)
    return Err(written.error());
  logger("net")->info(
      "created identity key file {} for peer {}", path.string(), pair.peer_id().to_string());
  return pair;
}

}  // namespace hivemind::net
