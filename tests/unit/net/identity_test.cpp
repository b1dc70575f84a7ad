#include "hivemind/net/identity.hpp"

#include <array>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hivemind/net/error.hpp"

namespace hivemind::net {
namespace {

// libp2p/specs peer-ids/peer-ids.md "Test vectors".
constexpr const char* kEd25519Private =
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be"
    "8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
constexpr const char* kEd25519Public =
    "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
constexpr const char* kSecp256k1Private =
    "0802122053dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb";

// RFC 8032 section 7.1, TEST 1 (empty message).
constexpr const char* kRfcSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr const char* kRfcPublic =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr const char* kRfcSignature =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b";

std::array<std::uint8_t, 32> seed_from_hex(const char* hex) {
  std::array<std::uint8_t, 32> seed{};
  const Bytes bytes = *from_hex(hex);
  std::copy(bytes.begin(), bytes.end(), seed.begin());
  return seed;
}

TEST(IdentityTest, SpecPrivateKeyVectorGivesSpecPublicKey) {
  auto pair = KeyPair::from_protobuf(*from_hex(kEd25519Private));
  ASSERT_TRUE(pair);
  EXPECT_EQ(to_hex(pair->public_key().to_protobuf()), kEd25519Public);
  EXPECT_EQ(to_hex(pair->to_protobuf()), kEd25519Private);
}

TEST(IdentityTest, Rfc8032SignatureVector) {
  const KeyPair pair = KeyPair::from_seed(seed_from_hex(kRfcSeed));
  EXPECT_EQ(to_hex(pair.public_key().raw()), kRfcPublic);
  EXPECT_EQ(to_hex(pair.sign({})), kRfcSignature);
  EXPECT_TRUE(pair.public_key().verify({}, *from_hex(kRfcSignature)));
}

TEST(IdentityTest, SignAndVerify) {
  const KeyPair pair = KeyPair::generate();
  const Bytes message = to_bytes("hello hivemind");
  Bytes signature = pair.sign(message);
  ASSERT_EQ(signature.size(), 64u);
  EXPECT_TRUE(pair.public_key().verify(message, signature));
  EXPECT_FALSE(pair.public_key().verify(to_bytes("hello hivemine"), signature));
  EXPECT_FALSE(KeyPair::generate().public_key().verify(message, signature));
  EXPECT_FALSE(pair.public_key().verify(message, BytesView(signature).first(63)));
  signature[10] ^= 0x01;
  EXPECT_FALSE(pair.public_key().verify(message, signature));
}

TEST(IdentityTest, NonEd25519KeysNeverVerify) {
  auto key = PublicKey::from_raw(KeyType::kSecp256k1, Bytes(33, 0x02));
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->verify({}, Bytes(64, 0)));
}

TEST(IdentityTest, PublicKeyProtobufRoundTrip) {
  const KeyPair pair = KeyPair::generate();
  auto parsed = PublicKey::from_protobuf(pair.public_key().to_protobuf());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, pair.public_key());
  EXPECT_EQ(parsed->type(), KeyType::kEd25519);
}

TEST(IdentityTest, PublicKeyProtobufIsStrict) {
  const std::string key = "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
  const char* bad[] = {
      "",
      "0801",                                                                      // Data missing
      "1220",                                                                      // Type missing
      "12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801",  // reordered
      "0881001220",  // padded varint (and short)
      "080112",      // truncated
      "0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce2",      // 31 bytes
      "08011221001ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",  // 33 bytes
      "080412201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",    // type 4
      "ff",
  };
  for (const char* hex : bad) {
    auto parsed = PublicKey::from_protobuf(*from_hex(hex));
    ASSERT_FALSE(parsed) << hex;
    EXPECT_EQ(parsed.error(), NetErrc::kMalformedKey);
  }
  // Unknown trailing field and duplicate fields are rejected, even though protobuf accepts them.
  for (const std::string& hex : {"08011220" + key + "1801", "0801080112 20" + key}) {
    std::string clean;
    for (char c : hex) {
      if (c != ' ')
        clean.push_back(c);
    }
    EXPECT_FALSE(PublicKey::from_protobuf(*from_hex(clean))) << clean;
  }
  EXPECT_FALSE(PublicKey::from_protobuf(Bytes(5000, 0x08)));
}

TEST(IdentityTest, PrivateKeyProtobufValidation) {
  Bytes good = *from_hex(kEd25519Private);
  // Legacy 96-byte form: seed || pub || pub.
  Bytes legacy = good;
  legacy[3] = 0x60;
  legacy.insert(legacy.end(), good.end() - 32, good.end());
  auto from_legacy = KeyPair::from_protobuf(legacy);
  ASSERT_TRUE(from_legacy);
  EXPECT_EQ(to_hex(from_legacy->to_protobuf()), kEd25519Private);
  // Legacy form with two different public keys.
  legacy.back() ^= 0x01;
  EXPECT_EQ(KeyPair::from_protobuf(legacy).error(), NetErrc::kMalformedKey);
  // Public half that does not belong to the seed.
  Bytes mismatched = good;
  mismatched.back() ^= 0x01;
  EXPECT_EQ(KeyPair::from_protobuf(mismatched).error(), NetErrc::kMalformedKey);
  // Seed only (32 bytes) is not a libp2p encoding.
  Bytes seed_only = {0x08, 0x01, 0x12, 0x20};
  seed_only.insert(seed_only.end(), good.begin() + 4, good.begin() + 36);
  EXPECT_EQ(KeyPair::from_protobuf(seed_only).error(), NetErrc::kMalformedKey);
  EXPECT_EQ(KeyPair::from_protobuf(*from_hex(kSecp256k1Private)).error(),
            NetErrc::kUnsupportedKeyType);
  EXPECT_EQ(KeyPair::from_protobuf(*from_hex(kEd25519Public)).error(), NetErrc::kMalformedKey);
}

TEST(IdentityTest, CopiesShareTheIdentity) {
  const KeyPair pair = KeyPair::generate();
  KeyPair copy = pair;
  EXPECT_EQ(copy.peer_id(), pair.peer_id());
  EXPECT_EQ(copy.sign(to_bytes("x")), pair.sign(to_bytes("x")));
  KeyPair moved = std::move(copy);
  EXPECT_EQ(moved.peer_id(), pair.peer_id());
}

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path()
           / ("hm_key_file_test_" + std::to_string(::getpid()) + "_"
              + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_F(KeyFileTest, CreatesThenLoadsTheSameIdentity) {
  const auto path = dir_ / "identity.key";
  auto created = load_or_create_key_file(path);
  ASSERT_TRUE(created);

  struct stat st {};

  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_or_create_key_file(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->peer_id(), created->peer_id());
  // Only the key file remains: the temporary file was renamed.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(KeyFileTest, LoadsASpecVectorFile) {
  const auto path = dir_ / "spec.key";
  const Bytes data = *from_hex(kEd25519Private);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  auto loaded = load_or_create_key_file(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(to_hex(loaded->public_key().to_protobuf()), kEd25519Public);
}

TEST_F(KeyFileTest, RejectsCorruptAndOversizedFiles) {
  const auto corrupt = dir_ / "corrupt.key";
  std::ofstream(corrupt, std::ios::binary) << "not a key";
  EXPECT_EQ(load_or_create_key_file(corrupt).error(), NetErrc::kMalformedKey);
  const auto huge = dir_ / "huge.key";
  std::ofstream(huge, std::ios::binary) << std::string(kMaxKeyFileSize + 1, 'x');
  EXPECT_EQ(load_or_create_key_file(huge).error(), NetErrc::kKeyFile);
}

TEST_F(KeyFileTest, MissingParentDirectoryFails) {
  EXPECT_EQ(load_or_create_key_file(dir_ / "missing" / "identity.key").error(), NetErrc::kKeyFile);
}

TEST_F(KeyFileTest, DirectoryPathFails) {
  EXPECT_EQ(load_or_create_key_file(dir_).error(), NetErrc::kKeyFile);
}

}  // namespace
}  // namespace hivemind::net
