// SignatureValidator: hivemind's tests/test_dht_crypto.py at the record level, plus known-answer
// vectors computed independently with Python `cryptography` (OpenSSH key text, Ed25519
// signature) and a hand-written msgpack encoding of the signed tuple.
#include "hivemind/dht/signature_validator.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "hivemind/dht/msgpack.hpp"
#include "hivemind/dht/schema_validator.hpp"

namespace hivemind::dht {
namespace {

net::KeyPair key_from_byte(std::uint8_t b) {
  std::array<std::uint8_t, 32> seed;
  seed.fill(b);
  return net::KeyPair::from_seed(seed);
}

Bytes cat(std::string_view a, BytesView b) {
  Bytes out = to_bytes(a);
  append(out, b);
  return out;
}

std::string text(BytesView b) {
  return std::string(as_chars(b));
}

// Standard padded base64 (RFC 4648 §4), written independently of the code under test.
std::string base64(BytesView data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 3; ++j)
      group = (group << 8) | (j < n ? data[i + j] : 0u);
    for (std::size_t j = 0; j < 4; ++j)
      out += j <= n ? kAlphabet[(group >> (18 - 6 * j)) & 63] : '=';
  }
  return out;
}

Bytes signature_marker(BytesView signature) {
  return to_bytes("[signature:" + base64(signature) + "]");
}

TEST(SignatureValidatorTest, OwnerMarkerOfRfc8032KeyMatchesOpenSsh) {
  // RFC 8032 §7.1 test 1 public key; OpenSSH text from cryptography's public_bytes(OpenSSH).
  auto raw = from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  ASSERT_TRUE(raw);
  auto key = net::PublicKey::from_raw(net::KeyType::kEd25519, *raw);
  ASSERT_TRUE(key);
  EXPECT_EQ(
      text(make_owner_marker(*key)),
      "[owner:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea]");
}

TEST(SignatureValidatorTest, LocalMarkerOfSeedOnesKey) {
  SignatureValidator validator(key_from_byte(1));
  EXPECT_EQ(
      text(validator.local_owner_marker()),
      "[owner:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c]");
}

TEST(SignatureValidatorTest, OwnerMarkerRejectsNonEd25519Keys) {
  auto rsa = net::PublicKey::from_raw(net::KeyType::kRsa, Bytes(270, 0x30));
  ASSERT_TRUE(rsa);
  EXPECT_THROW(make_owner_marker(*rsa), std::invalid_argument);
}

TEST(SignatureValidatorTest, ParseOwnerKeyRoundTripsAndRejectsMalformedText) {
  const net::KeyPair pair = key_from_byte(7);
  const Bytes marker = make_owner_marker(pair.public_key());
  const auto found = find_owner_markers(marker);
  ASSERT_EQ(found.size(), 1u);
  auto parsed = parse_owner_key(found[0]);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, pair.public_key());

  const std::string good = text(found[0]);
  const std::string b64 = good.substr(std::string("ssh-ed25519 ").size());
  for (const std::string& bad : {
           std::string("public-key"),
           std::string(""),
           "ssh-rsa " + b64,
           "ssh-ed25519  " + b64,                     // two spaces
           good + " user@host",                       // comment
           "ssh-ed25519 " + b64.substr(0, 64),        // truncated
           "ssh-ed25519 " + b64.substr(0, 67) + "*",  // not base64
           // A well-formed blob of the wrong type name ("ssh-ed25518").
           std::string(
               "ssh-ed25519 AAAAC3NzaC1lZDI1NTE4AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"),
       }) {
    EXPECT_FALSE(parse_owner_key(as_bytes(bad))) << bad;
  }
}

TEST(SignatureValidatorTest, FindOwnerMarkersFollowsHivemindRegex) {
  auto contents = [](std::string_view data) {
    std::vector<std::string> out;
    for (BytesView m : find_owner_markers(as_bytes(data)))
      out.emplace_back(as_chars(m));
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(contents("uid[owner:public-key]"), V{"public-key"});
  EXPECT_EQ(contents("[owner:a][owner:b]x[owner:c]"), (V{"a", "b", "c"}));
  EXPECT_EQ(contents("[owner:]]"), V{"]"});  // `.+?` takes one byte, even a ']'
  EXPECT_EQ(contents("[owner:]"), V{});      // empty contents do not match
  EXPECT_EQ(contents("[owner:a\nb]"), V{});  // '.' does not match '\n'
  EXPECT_EQ(contents("[owner:\n][owner:x]"), V{"x"});
  EXPECT_EQ(contents("[owner:[owner:x]"), V{"[owner:x"});
  EXPECT_EQ(contents("[owner:abc"), V{});
  EXPECT_EQ(contents("[owner"), V{});
  EXPECT_EQ(contents(""), V{});
}

TEST(SignatureValidatorTest, SignedPayloadAndSignatureMatchKnownAnswer) {
  SignatureValidator validator(key_from_byte(1));
  const DHTRecord record{
      to_bytes("key"), cat("subkey", validator.local_owner_marker()), to_bytes("value"), 1.5};
  EXPECT_EQ(to_hex(signed_record_payload(record)),
            "c7764094c4036b6579c45e7375626b65795b6f776e65723a7373682d65643235353139204141414143"
            "334e7a6143316c5a4449314e544535414141414949714934393130436647562f564c624c5479365858"
            "4c4b5a776d2f485a5153472f4e3069414730443239635dc40576616c7565cb3ff8000000000000");
  EXPECT_EQ(text(validator.sign_value(record)),
            "value[signature:W/IS3wWEZ7BCRorQE9EuWd6FaM789DtkqDdMkgSA5PL5XI2GmimFhdkm7DeiMrlwUypSZz"
            "n22UwzZHnOTtvmAQ==]");
}

class SignatureRecordsTest : public ::testing::Test {
 protected:
  SignatureValidator receiver_;  // process-wide key
  SignatureValidator sender_{key_from_byte(2)};
  SignatureValidator mallory_{key_from_byte(3)};
  DHTRecord plain_{to_bytes("key"), to_bytes("subkey"), to_bytes("value"), 1'700'000'010.25};

  std::vector<DHTRecord> protected_records() const {
    DHTRecord in_key = plain_;
    append(in_key.key, sender_.local_owner_marker());
    DHTRecord in_subkey = plain_;
    append(in_subkey.subkey, sender_.local_owner_marker());
    // As a node writes it: the subkey is msgpack of bytes that contain the marker.
    DHTRecord in_packed_subkey = plain_;
    in_packed_subkey.subkey =
        msgpack::pack(msgpack::Value(cat("uid", sender_.local_owner_marker())));
    return {in_key, in_subkey, in_packed_subkey};
  }

  static DHTRecord with_value(DHTRecord r, Bytes value) {
    r.value = std::move(value);
    return r;
  }
};

TEST_F(SignatureRecordsTest, UnprotectedRecordIsNeitherSignedNorRejected) {
  EXPECT_EQ(sender_.sign_value(plain_), plain_.value);
  EXPECT_TRUE(receiver_.validate(plain_));
  EXPECT_EQ(receiver_.strip_value(plain_), plain_.value);
}

TEST_F(SignatureRecordsTest, SignedRecordsValidateAndStripBack) {
  for (const DHTRecord& record : protected_records()) {
    const DHTRecord signed_record = with_value(record, sender_.sign_value(record));
    EXPECT_EQ(signed_record.value.size(), record.value.size() + kSignatureMarkerSize);
    EXPECT_TRUE(receiver_.validate(signed_record));
    EXPECT_EQ(receiver_.strip_value(signed_record), to_bytes("value"));
  }
}

TEST_F(SignatureRecordsTest, MissingGarbageAndForeignSignaturesFail) {
  for (const DHTRecord& record : protected_records()) {
    EXPECT_FALSE(receiver_.validate(record));  // no signature
    EXPECT_FALSE(receiver_.validate(with_value(record, cat("value[signature:INVALID_BYTES]", {}))));
    EXPECT_EQ(mallory_.sign_value(record), record.value);  // not Mallory's marker: not signed
    // Mallory's key signs exactly this record.
    Bytes foreign = record.value;
    append(foreign, signature_marker(key_from_byte(3).sign(signed_record_payload(record))));
    EXPECT_FALSE(receiver_.validate(with_value(record, foreign)));
    // The sender's key signs it the same way: valid, which shows the forgery failed on the key.
    Bytes genuine = record.value;
    append(genuine, signature_marker(key_from_byte(2).sign(signed_record_payload(record))));
    EXPECT_TRUE(receiver_.validate(with_value(record, genuine)));
    // Mallory signs anyway (her key, the sender's marker).
    DHTRecord forged = record;
    append(forged.subkey, mallory_.local_owner_marker());
    const Bytes mallory_value = mallory_.sign_value(forged);
    EXPECT_FALSE(receiver_.validate(with_value(record, mallory_value)));
    EXPECT_FALSE(receiver_.validate(with_value(forged, mallory_value)));  // two owners
  }
}

TEST_F(SignatureRecordsTest, AlteredFieldsFail) {
  for (const DHTRecord& record : protected_records()) {
    const DHTRecord good = with_value(record, sender_.sign_value(record));
    ASSERT_TRUE(receiver_.validate(good));
    DHTRecord r = good;
    r.value[0] ^= 1;
    EXPECT_FALSE(receiver_.validate(r)) << "value";
    r = good;
    r.expiration += 1;
    EXPECT_FALSE(receiver_.validate(r)) << "expiration";
    r = good;
    r.subkey.push_back('x');
    EXPECT_FALSE(receiver_.validate(r)) << "subkey";
    r = good;
    r.key.push_back('x');
    EXPECT_FALSE(receiver_.validate(r)) << "key";
    r = good;
    r.value.push_back(' ');  // the marker is no longer at the end
    EXPECT_FALSE(receiver_.validate(r)) << "trailing byte";
    // Signed twice: the outer signature covers the once-signed value, which is plain data to
    // it; stripping removes one layer only, so the caller gets bytes that are not the value.
    r = with_value(good, sender_.sign_value(good));
    EXPECT_TRUE(receiver_.validate(r)) << "signed twice";
    EXPECT_EQ(receiver_.strip_value(r), good.value);
    r = good;
    // The last base64 digit before "==" holds 2 data bits and 4 zero bits (A, Q, g or w);
    // its successor sets a padding bit: the same bits decode, but the text is not canonical.
    char& last_digit = reinterpret_cast<char&>(r.value[r.value.size() - 4]);
    ASSERT_NE(std::string_view("AQgw").find(last_digit), std::string_view::npos);
    ++last_digit;
    EXPECT_FALSE(receiver_.validate(r)) << "non-canonical base64";
    EXPECT_EQ(receiver_.strip_value(r), r.value);  // not a well-formed marker: nothing stripped
  }
}

TEST_F(SignatureRecordsTest, SameOwnerInKeyAndSubkeyIsValidDifferentOwnersAreNot) {
  DHTRecord both = plain_;
  append(both.key, sender_.local_owner_marker());
  append(both.subkey, sender_.local_owner_marker());
  EXPECT_TRUE(receiver_.validate(with_value(both, sender_.sign_value(both))));

  DHTRecord mixed = plain_;
  append(mixed.key, sender_.local_owner_marker());
  append(mixed.subkey, mallory_.local_owner_marker());
  EXPECT_FALSE(receiver_.validate(with_value(mixed, sender_.sign_value(mixed))));
  EXPECT_FALSE(receiver_.validate(with_value(mixed, mallory_.sign_value(mixed))));
}

TEST_F(SignatureRecordsTest, MalformedOwnerMarkerMakesRecordInvalid) {
  for (std::string_view marker : {"[owner:public-key]", "[owner:ssh-ed25519 AAAA]"}) {
    DHTRecord record = plain_;
    append(record.subkey, as_bytes(marker));
    EXPECT_FALSE(receiver_.validate(record)) << marker;
    Bytes value = record.value;  // a well-formed signature marker does not help
    append(value, signature_marker(key_from_byte(2).sign(signed_record_payload(record))));
    EXPECT_FALSE(receiver_.validate(with_value(record, value))) << marker;
  }
}

TEST_F(SignatureRecordsTest, MarkerLikeTextInsideValueIsSignedData) {
  for (DHTRecord record : protected_records()) {
    record.value = to_bytes("text[signature:INVALID_BYTES]more[signature:x]");
    const DHTRecord signed_record = with_value(record, sender_.sign_value(record));
    EXPECT_TRUE(receiver_.validate(signed_record));
    EXPECT_EQ(receiver_.strip_value(signed_record), record.value);
  }
}

TEST_F(SignatureRecordsTest, UnprotectedValueIsNeverStripped) {
  DHTRecord protected_record = protected_records()[1];
  const Bytes signed_value = sender_.sign_value(protected_record);
  // The same bytes under an unprotected key/subkey are data, returned as they are.
  const DHTRecord unprotected = with_value(plain_, signed_value);
  EXPECT_TRUE(receiver_.validate(unprotected));
  EXPECT_EQ(receiver_.strip_value(unprotected), signed_value);
}

TEST(SignatureValidatorTest, ProcessWideKeyIsSharedAndExplicitKeyDiffers) {
  SignatureValidator first;
  SignatureValidator second;
  EXPECT_EQ(first.local_owner_marker(), second.local_owner_marker());
  SignatureValidator third(net::KeyPair::generate());
  EXPECT_NE(first.local_owner_marker(), third.local_owner_marker());
}

TEST(SignatureValidatorTest, MergesWithSignatureValidatorsOnly) {
  SignatureValidator first(key_from_byte(4));
  SignatureValidator second(key_from_byte(5));
  EXPECT_EQ(first.priority(), 10);
  auto merged = first.merge_with(second);
  ASSERT_NE(merged, nullptr);
  const auto* as_signature = dynamic_cast<const SignatureValidator*>(merged.get());
  ASSERT_NE(as_signature, nullptr);
  EXPECT_EQ(as_signature->local_owner_marker(), first.local_owner_marker());  // second dropped
  EXPECT_EQ(first.merge_with(SchemaValidator({{"field", schema::bytes()}})), nullptr);
}

}  // namespace
}  // namespace hivemind::dht
