// Atomic replace: temp file (mkstemp, same folder) -> write -> fsync -> rename -> fsync(folder).
#include "atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hivemind/moe/error.hpp"

namespace hivemind::moe {
namespace {

namespace fs = std::filesystem;

Err file_error(const fs::path& path, const std::string& what, int error) {
  return Err(MoeErrc::kCheckpointError,
             path.string() + ": " + what + ": " + std::string(std::strerror(error)));
}

/// fsync of the folder that holds `path`, so that a rename survives a crash.
void sync_parent(const fs::path& path) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

/// A fresh unique temp file name next to `path` (created, mode 0644); returns its fd or -1.
int make_temp(const fs::path& path, std::string& temp_name) {
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  temp_name = (parent / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkostemp(temp_name.data(), O_CLOEXEC);
  if (fd >= 0)
    (void)::fchmod(fd, 0644);
  return fd;
}

}  // namespace

Result<void> write_file_atomically(const fs::path& path, BytesView data) {
  std::string temp;
  const int fd = make_temp(path, temp);
  if (fd < 0)
    return file_error(path, "cannot create a temp file", errno);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(temp.c_str());
      return file_error(path, "write failed", error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return file_error(path, "fsync failed", error);
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return file_error(path, "close failed", error);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return file_error(path, "rename failed", error);
  }
  sync_parent(path);
  return {};
}

Result<void> replace_with_link(const fs::path& source, const fs::path& target, BytesView data) {
  std::string temp;
  const int fd = make_temp(target, temp);
  if (fd < 0)
    return file_error(target, "cannot create a temp file", errno);
  ::close(fd);
  ::unlink(temp.c_str());  // link() needs a free name; mkostemp only reserved a unique one
  if (::link(source.c_str(), temp.c_str()) != 0)
    return write_file_atomically(target, data);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    return file_error(target, "rename failed", error);
  }
  sync_parent(target);
  return {};
}

Result<Bytes> read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return file_error(path, "cannot open", errno);
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    return file_error(path, "read failed", errno);
  return out;
}

}  // namespace hivemind::moe
