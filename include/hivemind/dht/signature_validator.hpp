#pragma once
/// \file
/// Owner-protected DHT records (hivemind's `RSASignatureValidator`, `dht/crypto.py`, with Ed25519
/// in place of RSA-PSS). A record whose key or subkey contains `[owner:ssh-ed25519 AAAA...]` may
/// only be written with a value signed by that key: the value carries a trailing
/// `[signature:<base64>]` over msgpack((key, subkey, value, expiration)). See
/// docs/protocols/dht-validation.md. Pure functions and immutable objects: no I/O, every const
/// method may be called from any thread.

#include <memory>
#include <string_view>
#include <vector>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"
#include "hivemind/dht/validation.hpp"
#include "hivemind/net/identity.hpp"

namespace hivemind::dht {

/// Opening of an owner marker, closed by `]` (hivemind's `PUBLIC_KEY_FORMAT`).
inline constexpr std::string_view kOwnerMarkerOpen = "[owner:";
/// Opening of a signature marker, closed by `]` (hivemind's `SIGNATURE_FORMAT`).
inline constexpr std::string_view kSignatureMarkerOpen = "[signature:";
/// Size of a signature marker: opening + base64 of a 64-byte Ed25519 signature (88 chars) + `]`.
inline constexpr std::size_t kSignatureMarkerSize = kSignatureMarkerOpen.size() + 88 + 1;

/// The contents of every `[owner:...]` marker in `data`, in order, exactly as hivemind's
/// `re.findall(rb"\[owner:(.+?)\]", data)` finds them: at least one byte, no `\n`, up to the first
/// `]` after that byte; matches do not overlap. Views into `data`. Linear time.
std::vector<BytesView> find_owner_markers(BytesView data);

/// `[owner:ssh-ed25519 <base64 of the SSH wire blob>]` for an Ed25519 key: the bytes a user puts
/// in a key or subkey to protect it. The blob is SSH string "ssh-ed25519" + SSH string of the
/// 32-byte key (RFC 8709). Throws std::invalid_argument (HM_CHECK) for other key types.
Bytes make_owner_marker(const net::PublicKey& key);

/// Parses the contents of an owner marker (`ssh-ed25519 AAAA...`, nothing else: no comment, no
/// extra spaces, canonical padded base64, the exact 51-byte blob). Errors:
/// DhtErrc::kMalformedValue.
Result<net::PublicKey> parse_owner_key(BytesView marker_contents);

/// The bytes that are signed: msgpack of the tuple (bin key, bin subkey, bin value, float64
/// expiration), i.e. ext 0x40 wrapping a 4-array (hivemind's
/// `MSGPackSerializer.dumps(dataclasses.astuple(record))`). `record.value` must be unsigned.
Bytes signed_record_payload(const DHTRecord& record);

/// Validator for owner-protected records. Immutable after construction; holds a copy of the
/// signing key (secret material, wiped on destruction).
class SignatureValidator final : public RecordValidator {
 public:
  /// hivemind's priority: validates (and strips) before validators that decode the value.
  static constexpr int kPriority = 10;

  /// Signs with the process-wide key (see process_wide_key()), as hivemind's default does.
  SignatureValidator();
  /// Signs with `key`.
  explicit SignatureValidator(net::KeyPair key);

  /// One Ed25519 key pair per process, generated on first use (thread-safe); hivemind's
  /// `RSAPrivateKey.process_wide()`.
  static const net::KeyPair& process_wide_key();

  /// The owner marker of the local key, `[owner:ssh-ed25519 ...]` (hivemind's
  /// `ownership_marker` / `local_public_key`): put it in a subkey to protect the entry.
  const Bytes& local_owner_marker() const noexcept { return local_marker_; }

  /// The local signing key's public half.
  const net::PublicKey& public_key() const noexcept { return key_.public_key(); }

  /// True when neither key nor subkey holds an owner marker (unprotected record), or when all
  /// their markers name the same well-formed Ed25519 key, the value ends with one well-formed
  /// signature marker, and that signature verifies over the record without it.
  bool validate(const DHTRecord& record) const override;
  /// `record.value` + `[signature:...]` when the local owner marker occurs in the key or the
  /// subkey; otherwise `record.value` unchanged.
  Bytes sign_value(const DHTRecord& record) const override;
  /// For a protected record (an owner marker in key or subkey) whose value ends with a
  /// well-formed signature marker: the value without it. Otherwise the value unchanged.
  Bytes strip_value(const DHTRecord& record) const override;

  int priority() const override { return kPriority; }

  /// Another SignatureValidator merges: the result is this validator (the other's key is
  /// dropped, as in hivemind). nullptr for other kinds.
  std::shared_ptr<const RecordValidator> merge_with(const RecordValidator& other) const override;

 private:
  net::KeyPair key_;
  Bytes local_marker_;
};

}  // namespace hivemind::dht
