// Schema checks of request tensors and the rpc_info payload (msgpack of hivemind's get_info()).
// Golden bytes: msgpack-python 1.0.3 packing the dict hivemind's MSGPackSerializer builds
// (BatchTensorDescriptor.packb as ext 0x51, tuples as ext 0x40), see
// hivemind/utils/tensor_descr.py.
#include "hivemind/moe/tensor_schema.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "hivemind/dht/msgpack.hpp"

namespace hivemind::moe {
namespace {

using compression::CompressionType;
using compression::Dtype;
namespace mp = hivemind::dht::msgpack;

// get_info() of ModuleBackend(args_schema=(BatchTensorDescriptor.from_tensor(zeros(3, 4)),)) with
// outputs_schema BatchTensorDescriptor.from_tensor(zeros(3, 4)).
constexpr std::string_view kGoldenOneArg =
    "83ae666f72776172645f736368656d61c7844092c77f4091c77b5188a473697a65c7034092c004a56474797065ad"
    "746f7263682e666c6f61743332a66c61796f7574ad746f7263682e73747269646564ad72657175697265735f6772"
    "6164c2aa70696e5f6d656d6f7279c2ab636f6d7072657373696f6e00ab6465766963655f74797065a3637075ac64"
    "65766963655f696e646578c080ae6f7574707574735f736368656d61c77b5188a473697a65c7034092c004a56474"
    "797065ad746f7263682e666c6f61743332a66c61796f7574ad746f7263682e73747269646564ad72657175697265"
    "735f67726164c2aa70696e5f6d656d6f7279c2ab636f6d7072657373696f6e00ab6465766963655f74797065a363"
    "7075ac6465766963655f696e646578c0ad6b6579776f72645f6e616d6573d44090";

// Two args ([*, 2] float32 FLOAT16, [*, 2] int64) and two outputs ([*] float32, [*, 3, 5] bool).
constexpr std::string_view kGoldenTwoArgs =
    "83ae666f72776172645f736368656d61c801004092c7fb4092c77b5188a473697a65c7034092c002a56474797065"
    "ad746f7263682e666c6f61743332a66c61796f7574ad746f7263682e73747269646564ad72657175697265735f67"
    "726164c2aa70696e5f6d656d6f7279c2ab636f6d7072657373696f6e02ab6465766963655f74797065a3637075ac"
    "6465766963655f696e646578c0c7795188a473697a65c7034092c002a56474797065ab746f7263682e696e743634"
    "a66c61796f7574ad746f7263682e73747269646564ad72657175697265735f67726164c2aa70696e5f6d656d6f72"
    "79c2ab636f6d7072657373696f6e00ab6465766963655f74797065a3637075ac6465766963655f696e646578c080"
    "ae6f7574707574735f736368656d61c7f84092c7795188a473697a65d54091c0a56474797065ad746f7263682e66"
    "6c6f61743332a66c61796f7574ad746f7263682e73747269646564ad72657175697265735f67726164c2aa70696e"
    "5f6d656d6f7279c2ab636f6d7072657373696f6e00ab6465766963655f74797065a3637075ac6465766963655f69"
    "6e646578c0c7785188a473697a65d64093c00305a56474797065aa746f7263682e626f6f6ca66c61796f7574ad74"
    "6f7263682e73747269646564ad72657175697265735f67726164c2aa70696e5f6d656d6f7279c2ab636f6d707265"
    "7373696f6e00ab6465766963655f74797065a3637075ac6465766963655f696e646578c0ad6b6579776f72645f6e"
    "616d6573d44090";

Bytes hex(std::string_view text) {
  return from_hex(text).value();
}

ExpertSchema two_arg_schema() {
  return {.args = {{{2}, Dtype::kFloat32, CompressionType::kFloat16}, {{2}, Dtype::kInt64}},
          .outputs = {{{}, Dtype::kFloat32}, {{3, 5}, Dtype::kBool}}};
}

TEST(TensorSchema, CheckBatchAcceptsMatchingTensors) {
  const std::vector<TensorSchema> schema{{{4}}, {{2, 3}, Dtype::kInt64}};
  auto batch = check_batch(schema, {at::zeros({5, 4}), at::zeros({5, 2, 3}, at::kLong)}, true);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(*batch, 5);
}

TEST(TensorSchema, CheckBatchNamesWhatIsWrong) {
  const std::vector<TensorSchema> schema{{{1024}}};
  auto count = check_batch(schema, {at::zeros({4, 1024}), at::zeros({4, 1024})}, false);
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(count.error().message(), "expected 1 inputs, got 2");

  auto shape = check_batch(schema, {at::zeros({4, 11})}, false);
  ASSERT_FALSE(shape);
  EXPECT_EQ(shape.error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(shape.error().message(), "input 0: expected shape [*, 1024], got [4, 11]");

  auto rank = check_batch(schema, {at::zeros({1024})}, false);
  ASSERT_FALSE(rank);
  EXPECT_EQ(rank.error().message(), "input 0: expected shape [*, 1024], got [1024]");

  auto dtype = check_batch(schema, {at::zeros({4, 1024}, at::kLong)}, false, "grad_output");
  ASSERT_FALSE(dtype);
  EXPECT_EQ(dtype.error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(dtype.error().message(), "grad_output 0: expected dtype float32, got int64");

  auto undefined = check_batch(schema, {at::Tensor()}, false);
  ASSERT_FALSE(undefined);
  EXPECT_EQ(undefined.error(), MoeErrc::kSchemaMismatch);
}

TEST(TensorSchema, CheckBatchRejectsUnequalEmptyAndNonFiniteBatches) {
  const std::vector<TensorSchema> schema{{{2}}, {{2}}};
  auto unequal = check_batch(schema, {at::zeros({4, 2}), at::zeros({3, 2})}, false);
  ASSERT_FALSE(unequal);
  EXPECT_EQ(unequal.error(), MoeErrc::kSchemaMismatch);
  EXPECT_EQ(unequal.error().message(), "input 1: batch size 3 differs from 4");

  auto empty = check_batch(schema, {at::zeros({0, 2}), at::zeros({0, 2})}, false);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), MoeErrc::kEmptyBatch);

  at::Tensor nan = at::zeros({2, 2});
  nan[1][0] = std::numeric_limits<float>::quiet_NaN();
  at::Tensor inf = at::zeros({2, 2});
  inf[0][1] = std::numeric_limits<float>::infinity();
  auto with_nan = check_batch(schema, {at::zeros({2, 2}), nan}, true);
  ASSERT_FALSE(with_nan);
  EXPECT_EQ(with_nan.error(), MoeErrc::kNonFinite);
  EXPECT_EQ(with_nan.error().message(), "input 1 holds NaN or Inf");
  EXPECT_EQ(check_batch(schema, {inf, at::zeros({2, 2})}, true).error(), MoeErrc::kNonFinite);
  // Without the finiteness check, NaN passes.
  EXPECT_TRUE(check_batch(schema, {at::zeros({2, 2}), nan}, false));
}

TEST(TensorSchema, FinitenessCheckFindsEveryNonFiniteValue) {
  // The one-pass check reads blocks of 64 values and then a tail: non-finite values in the
  // first, a middle and the last block, in the tail, of both signs, in float32 and float64, and
  // in layouts that take the generic path (non-contiguous, float16) are all found.
  const std::vector<TensorSchema> f32{{{333}}};
  const std::vector<TensorSchema> f64{{{333}, Dtype::kFloat64}};
  const std::vector<TensorSchema> f16{{{333}, Dtype::kFloat16}};
  const double kValues[] = {std::numeric_limits<double>::quiet_NaN(),
                            -std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity()};
  const std::int64_t kPositions[] = {0, 63, 64, 700, 5 * 333 - 1, 4 * 333 + 300};
  for (const auto& [schema, type] :
       {std::pair{f32, at::kFloat}, std::pair{f64, at::kDouble}, std::pair{f16, at::kHalf}}) {
    const at::Tensor finite = at::randn({5, 333}).to(type);
    EXPECT_TRUE(check_batch(schema, {finite}, true)) << type;
    for (const double bad : kValues)
      for (const std::int64_t at_index : kPositions) {
        at::Tensor t = finite.clone();
        t.view({-1})[at_index] = bad;
        auto checked = check_batch(schema, {t}, true);
        ASSERT_FALSE(checked) << type << " " << bad << " at " << at_index;
        EXPECT_EQ(checked.error(), MoeErrc::kNonFinite);
      }
  }
  // The largest finite values pass.
  const at::Tensor largest = at::full({5, 333}, std::numeric_limits<float>::max());
  EXPECT_TRUE(check_batch(f32, {largest}, true));
  EXPECT_TRUE(check_batch(f32, {-largest}, true));
  const at::Tensor largest64 = at::full({5, 333}, std::numeric_limits<double>::max(), at::kDouble);
  EXPECT_TRUE(check_batch(f64, {largest64}, true));
  // A non-contiguous view: the NaN sits in a column the view keeps.
  at::Tensor wide = at::zeros({333, 10});
  wide[7][2] = std::numeric_limits<float>::quiet_NaN();
  const at::Tensor column_major = wide.t();  // [10, 333], not contiguous
  EXPECT_EQ(check_batch(f32, {column_major}, true).error(), MoeErrc::kNonFinite);
  EXPECT_TRUE(check_batch(f32, {wide.slice(1, 3, 4).t().expand({4, 333})}, true));
}

TEST(TensorSchema, SchemaOfDropsTheBatchDim) {
  const TensorSchema schema = schema_of(at::zeros({7, 3, 5}, at::kBool));
  EXPECT_EQ(schema.shape, (std::vector<std::int64_t>{3, 5}));
  EXPECT_EQ(schema.dtype, Dtype::kBool);
  EXPECT_EQ(schema.compression, CompressionType::kNone);
  EXPECT_EQ(shape_string(schema), "[*, 3, 5]");
  EXPECT_THROW((void)schema_of(at::zeros({})), std::invalid_argument);
}

TEST(ExpertInfo, EncodesHivemindsGetInfoBytes) {
  const ExpertSchema one{.args = {{{4}}}, .outputs = {{{4}}}};
  EXPECT_EQ(to_hex(encode_expert_info(one)), kGoldenOneArg);
  EXPECT_EQ(to_hex(encode_expert_info(two_arg_schema())), kGoldenTwoArgs);
}

TEST(ExpertInfo, DecodesHivemindsBytes) {
  auto one = decode_expert_info(hex(kGoldenOneArg));
  ASSERT_TRUE(one) << one.error().message();
  EXPECT_EQ(*one, (ExpertSchema{.args = {{{4}}}, .outputs = {{{4}}}}));
  auto two = decode_expert_info(hex(kGoldenTwoArgs));
  ASSERT_TRUE(two) << two.error().message();
  EXPECT_EQ(*two, two_arg_schema());
}

TEST(ExpertInfo, RoundTripsAndForcesNoneForIntegerTensors) {
  ExpertSchema schema{.args = {{{3, 7}, Dtype::kFloat16, CompressionType::kBlockwise8Bit},
                               {{1}, Dtype::kUInt8, CompressionType::kUniform8Bit}},
                      .outputs = {{{9}, Dtype::kBFloat16, CompressionType::kMeanStd16Bit}}};
  auto decoded = decode_expert_info(encode_expert_info(schema));
  ASSERT_TRUE(decoded) << decoded.error().message();
  schema.args[1].compression = CompressionType::kNone;  // from_tensor: NONE for non-floating
  EXPECT_EQ(*decoded, schema);
}

/// Builds an info map around one descriptor dict; for hand-made hostile inputs.
Bytes info_with_descriptor(mp::Map descriptor) {
  mp::Value desc = mp::Ext{0x51, mp::pack(std::move(descriptor))};
  mp::Map info;
  info.entries.emplace_back("forward_schema", mp::Tuple{{mp::Tuple{{desc}}, mp::Map{}}});
  info.entries.emplace_back("outputs_schema", desc);
  return mp::pack(std::move(info));
}

mp::Map descriptor(mp::Value size) {
  mp::Map d;
  d.entries.emplace_back("size", std::move(size));
  return d;
}

TEST(ExpertInfo, AcceptsMinimalDescriptorsAsPythonDoes) {
  // BatchTensorDescriptor(4) made by hand has no dtype (None), no device; keyword_names absent.
  auto decoded = decode_expert_info(info_with_descriptor(descriptor(mp::Tuple{{mp::Nil{}, 4}})));
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, (ExpertSchema{.args = {{{4}}}, .outputs = {{{4}}}}));
}

TEST(ExpertInfo, RejectsHostileInput) {
  auto rejects = [](const Bytes& bytes, std::string_view needle) {
    auto decoded = decode_expert_info(bytes);
    ASSERT_FALSE(decoded) << needle;
    EXPECT_EQ(decoded.error(), MoeErrc::kBadRequest);
    EXPECT_NE(decoded.error().message().find(needle), std::string::npos)
        << decoded.error().message();
  };
  rejects(Bytes{}, "expert info");
  rejects(hex("c1"), "expert info");
  rejects(mp::pack(mp::Value(5)), "not a map");
  Bytes truncated = hex(kGoldenOneArg);
  truncated.pop_back();
  rejects(truncated, "expert info");
  rejects(Bytes(kMaxExpertInfoBytes + 1, 0xc0), "larger than");
  rejects(info_with_descriptor(descriptor(mp::Tuple{{4, 4}})), "batch dim must be None");
  rejects(info_with_descriptor(descriptor(mp::Tuple{{mp::Nil{}, -1}})), "dim 1");
  rejects(info_with_descriptor(descriptor(mp::Tuple{{mp::Nil{}, "4"}})), "dim 1");
  rejects(info_with_descriptor(descriptor(mp::Tuple{{mp::Nil{}, std::int64_t{1} << 41}})), "dim 1");
  rejects(info_with_descriptor(
              descriptor(mp::Tuple{{mp::Nil{}, std::int64_t{1} << 30, std::int64_t{1} << 30}})),
          "2^40 elements");
  mp::Tuple many_dims{{mp::Nil{}}};
  for (int i = 0; i < 65; ++i)
    many_dims.items.emplace_back(1);
  rejects(info_with_descriptor(descriptor(many_dims)), "too many dims");
  rejects(info_with_descriptor(descriptor(mp::Nil{})), "'size'");

  auto with = [](const char* key, mp::Value value) {
    mp::Map d = descriptor(mp::Tuple{{mp::Nil{}, 4}});
    d.entries.emplace_back(key, std::move(value));
    return info_with_descriptor(std::move(d));
  };
  rejects(with("dtype", "torch.complex64"), "unsupported dtype");
  rejects(with("dtype", 3), "'dtype' is not a string");
  rejects(with("layout", "torch.sparse_coo"), "layout");
  rejects(with("compression", 6), "unknown compression");
  rejects(with("size", mp::Tuple{{mp::Nil{}, 4}}), "duplicate key");

  // Not a 0x51 ext, kwargs, bad forward_schema shapes.
  mp::Map info;
  info.entries.emplace_back("forward_schema", mp::Tuple{{mp::Tuple{{1}}, mp::Map{}}});
  info.entries.emplace_back("outputs_schema", mp::Tuple{});
  rejects(mp::pack(info), "not a BatchTensorDescriptor");
  mp::Map kwargs;
  kwargs.entries.emplace_back("x", mp::Ext{0x51, {}});
  info.entries[0].second = mp::Tuple{{mp::Tuple{}, kwargs}};
  rejects(mp::pack(info), "keyword arguments");
  info.entries[0].second = mp::Tuple{{mp::Tuple{}}};
  rejects(mp::pack(info), "forward_schema");
  mp::Map no_outputs;
  no_outputs.entries.emplace_back("forward_schema", mp::Tuple{{mp::Tuple{}, mp::Map{}}});
  rejects(mp::pack(no_outputs), "outputs_schema");
  // A descriptor whose payload is not msgpack.
  mp::Map bad_payload;
  bad_payload.entries.emplace_back("forward_schema", mp::Tuple{{mp::Tuple{}, mp::Map{}}});
  bad_payload.entries.emplace_back("outputs_schema", mp::Ext{0x51, hex("92")});
  rejects(mp::pack(bad_payload), "descriptor 0");
}

}  // namespace
}  // namespace hivemind::moe
