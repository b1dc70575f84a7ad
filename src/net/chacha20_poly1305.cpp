#include "chacha20_poly1305.hpp"

#include <algorithm>
#include <memory>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace hivemind::net::detail {
namespace {

constexpr std::size_t kMaxUpdate = std::size_t{1} << 30;  // EVP takes int lengths

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};

using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

/// The cipher implementation, fetched once: passing EVP_chacha20_poly1305() to every init would
/// make OpenSSL 3 look the provider up again on each message.
const EVP_CIPHER* cipher() {
  static const EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return fetched;
}

/// One context per thread and direction, bound to the cipher once; each message only sets key
/// and nonce.
EVP_CIPHER_CTX* context(bool encrypt) {
  thread_local CtxPtr contexts[2];
  CtxPtr& ctx = contexts[encrypt ? 1 : 0];
  if (!ctx) {
    CtxPtr fresh(EVP_CIPHER_CTX_new());
    if (!fresh || cipher() == nullptr
        || EVP_CipherInit_ex2(fresh.get(), cipher(), nullptr, nullptr, encrypt ? 1 : 0, nullptr)
               != 1) {
      return nullptr;
    }
    ctx = std::move(fresh);
  }
  return ctx.get();
}

bool update(EVP_CIPHER_CTX* ctx, const std::uint8_t* in, std::uint8_t* out, std::size_t size) {
  while (size > 0) {
    const std::size_t n = std::min(size, kMaxUpdate);
    int written = 0;
    if (EVP_CipherUpdate(ctx, out, &written, in, static_cast<int>(n)) != 1
        || static_cast<std::size_t>(written) != n) {
      return false;
    }
    in += n;
    out += n;
    size -= n;
  }
  return true;
}

bool start(EVP_CIPHER_CTX* ctx,
           std::span<const std::uint8_t, kAeadKeySize> key,
           std::span<const std::uint8_t, kAeadNonceSize> nonce,
           BytesView ad,
           bool encrypt) {
  if (ctx == nullptr
      || EVP_CipherInit_ex2(ctx, nullptr, key.data(), nonce.data(), encrypt ? 1 : 0, nullptr) != 1)
    return false;
  while (!ad.empty()) {
    const std::size_t n = std::min(ad.size(), kMaxUpdate);
    int written = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &written, ad.data(), static_cast<int>(n)) != 1)
      return false;
    ad = ad.subspan(n);
  }
  return true;
}

}  // namespace

bool aead_seal(std::span<const std::uint8_t, kAeadKeySize> key,
               std::span<const std::uint8_t, kAeadNonceSize> nonce,
               BytesView ad,
               const std::uint8_t* in,
               std::uint8_t* out,
               std::size_t size,
               std::uint8_t* tag) {
  const BytesView part(in, size);
  return aead_seal_parts(key, nonce, ad, std::span<const BytesView>(&part, 1), out, tag);
}

bool aead_seal_parts(std::span<const std::uint8_t, kAeadKeySize> key,
                     std::span<const std::uint8_t, kAeadNonceSize> nonce,
                     BytesView ad,
                     std::span<const BytesView> parts,
                     std::uint8_t* out,
                     std::uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = context(true);
  if (!start(ctx, key, nonce, ad, true))
    return false;
  for (const BytesView part : parts) {
    // The cipher keeps its keystream position across updates of any length.
    if (!update(ctx, part.data(), out, part.size()))
      return false;
    out += part.size();
  }
  int written = 0;
  return EVP_CipherFinal_ex(ctx, out, &written) == 1 && written == 0
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagSize), tag)
                == 1;
}

bool aead_open(std::span<const std::uint8_t, kAeadKeySize> key,
               std::span<const std::uint8_t, kAeadNonceSize> nonce,
               BytesView ad,
               const std::uint8_t* in,
               std::uint8_t* out,
               std::size_t size,
               const std::uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = context(false);
  int written = 0;
  // The tag is compared in constant time by EVP_CipherFinal_ex.
  const bool ok =
      start(ctx, key, nonce, ad, false)
      && EVP_CIPHER_CTX_ctrl(ctx,
                             EVP_CTRL_AEAD_SET_TAG,
                             static_cast<int>(kAeadTagSize),
                             const_cast<std::uint8_t*>(tag))  // NOLINT: OpenSSL copies the tag
             == 1
      && update(ctx, in, out, size) && EVP_CipherFinal_ex(ctx, out + size, &written) == 1
      && written == 0;
  if (!ok && size > 0)
    OPENSSL_cleanse(out, size);
  return ok;
}

}  // namespace hivemind::net::detail
