// ExpertBackend state for checkpoints: a torch::serialize archive holding
//   "format"        "hivemind-cpp-expert-state-v1"
//   "module"        nested archive: every parameter and buffer under its dotted name with '.'
//                   replaced by '/' (archive keys must not contain dots)
//   "optimizer"     nested archive written by torch::optim::Optimizer::save (absent for "none")
//   "update_count"  int64 scalar: backward steps taken, from which the lr schedule resumes
// Loading reads and validates every tensor before touching the expert; parameters are copied in
// place (so the optimizer keeps pointing at them). hivemind pickles {module, optimizer,
// scheduler} state dicts instead; the two formats are not interchangeable (reference §1.11).
#include <algorithm>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "atomic_file.hpp"
#include "expert_backend_impl.hpp"

namespace hivemind::moe {
namespace {

constexpr const char* kStateFormat = "hivemind-cpp-expert-state-v1";

std::string archive_key(std::string name) {
  std::replace(name.begin(), name.end(), '.', '/');
  return name;
}

Err state_error(const std::string& detail) {
  return Err(MoeErrc::kCheckpointError, detail);
}

}  // namespace

Result<Bytes> ExpertBackend::state_bytes() const {
  std::shared_lock lock(mutex_);
  try {
    torch::serialize::OutputArchive archive;
    archive.write("format", c10::IValue(std::string(kStateFormat)));
    torch::serialize::OutputArchive module_archive;
    for (const auto& item : impl_->module->named_parameters())
      module_archive.write(archive_key(item.key()), item.value());
    for (const auto& item : impl_->module->named_buffers())
      module_archive.write(archive_key(item.key()), item.value(), /*is_buffer=*/true);
    archive.write("module", module_archive);
    if (impl_->optimizer) {
      torch::serialize::OutputArchive optimizer_archive;
      impl_->optimizer->save(optimizer_archive);
      archive.write("optimizer", optimizer_archive);
    }
    archive.write("update_count", at::scalar_tensor(update_count_.load(), at::kLong));
    Bytes out;
    archive.save_to([&out](const void* data, std::size_t size) -> std::size_t {
      const auto* bytes = static_cast<const std::uint8_t*>(data);
      out.insert(out.end(), bytes, bytes + size);
      return size;
    });
    return out;
  } catch (const std::exception& e) {
    return state_error("cannot serialize expert '" + uid_ + "': " + torch_error_message(e));
  }
}

Result<void> ExpertBackend::load_state_bytes(BytesView data) {
  std::unique_lock lock(mutex_);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(reinterpret_cast<const char*>(data.data()), data.size(), impl_->device);
    c10::IValue format;
    if (!archive.try_read("format", format) || !format.isString()
        || format.toStringRef() != kStateFormat)
      return state_error("not an expert state archive (" + std::string(kStateFormat) + ")");
    torch::serialize::InputArchive module_archive;
    if (!archive.try_read("module", module_archive))
      return state_error("no module state");

    // Read and check everything first; copy afterwards.
    std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, loaded)
    auto stage = [&](const std::string& name,
                     const at::Tensor& destination,
                     bool is_buffer) -> Result<void> {
      at::Tensor loaded;
      if (!module_archive.try_read(archive_key(name), loaded, is_buffer) || !loaded.defined())
        return state_error("missing tensor '" + name + "'");
      if (loaded.sizes() != destination.sizes()
          || loaded.scalar_type() != destination.scalar_type())
        return state_error("tensor '" + name + "' has shape " + c10::str(loaded.sizes()) + " "
                           + c10::toString(loaded.scalar_type()) + ", the expert has "
                           + c10::str(destination.sizes()) + " "
                           + c10::toString(destination.scalar_type()));
      copies.emplace_back(destination, loaded);
      return {};
    };
    for (const auto& item : impl_->module->named_parameters())
      HM_TRY_VOID(stage(item.key(), item.value(), false));
    for (const auto& item : impl_->module->named_buffers())
      HM_TRY_VOID(stage(item.key(), item.value(), true));

    at::Tensor count;
    if (!archive.try_read("update_count", count) || !count.defined() || count.numel() != 1
        || count.scalar_type() != at::kLong || count.item<std::int64_t>() < 0)
      return state_error("missing or invalid update_count");
    const std::int64_t steps = count.item<std::int64_t>();

    if (impl_->optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      if (!archive.try_read("optimizer", optimizer_archive))
        return state_error("no optimizer state");
      impl_->optimizer->load(optimizer_archive);
    }
    {
      at::NoGradGuard no_grad;
      for (auto& [destination, loaded] : copies)
        destination.copy_(loaded);
    }
    update_count_.store(steps);
    impl_->set_lr(lr_for_step(steps));
    return {};
  } catch (const std::exception& e) {
    return state_error("corrupt expert state: " + torch_error_message(e));
  }
}

Result<void> ExpertBackend::save_state(const std::filesystem::path& path) const {
  HM_TRY(const Bytes bytes, state_bytes());
  return write_file_atomically(path, bytes);
}

Result<void> ExpertBackend::load_state(const std::filesystem::path& path) {
  HM_TRY(const Bytes bytes, read_whole_file(path));
  auto loaded = load_state_bytes(bytes);
  if (!loaded)
    return state_error(path.string() + ": " + loaded.error().message());
  return {};
}

}  // namespace hivemind::moe
