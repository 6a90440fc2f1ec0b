// Python pickles of plain data and tensors, in the dialect torch.save writes (protocol 2; the
// reader also takes protocols 3 and 4). Opcodes: Python's Lib/pickletools.py.
//
// Reading is restricted, as torch.load(weights_only=True) is: no code runs. None, bools, ints,
// floats, strings, bytes, lists, tuples, dicts (OrderedDict too) and tensors are rebuilt; any other
// class or function the pickle names becomes an opaque Object that records only its name, so a
// training checkpoint that also pickles, say, an argparse.Namespace still gives its tensors.
// Anything malformed throws Error naming the file.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace flowlab {

class PickleValue {
 public:
  enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Tensor, Storage, Global, Object };
  using Entry = std::pair<PickleValue, PickleValue>;

  PickleValue() = default;  // None
  static PickleValue boolean(bool value);
  static PickleValue integer(int64_t value);
  static PickleValue number(double value);
  static PickleValue string(std::string text);
  static PickleValue bytes(std::string data);
  static PickleValue list(std::vector<PickleValue> items = {});
  static PickleValue tuple(std::vector<PickleValue> items = {});
  static PickleValue dict(std::vector<Entry> entries = {});
  static PickleValue tensor(torch::Tensor tensor);
  // A storage: its elements as a 1-D tensor of its dtype.
  static PickleValue storage(torch::Tensor elements);
  // A module-level name such as torch.FloatStorage ("module.name").
  static PickleValue global(const std::string& module, const std::string& name);
  // An instance of a class the reader does not rebuild, named "module.name".
  static PickleValue object(std::string class_name);

  Kind kind() const { return kind_; }
  bool is(Kind kind) const { return kind_ == kind; }
  // Each throws Error when the value is of another kind.
  bool as_bool() const;
  int64_t as_int() const;
  double as_float() const;               // Float, or Int converted
  const std::string& as_string() const;  // String, Bytes; Global and Object: "module.name"
  const std::vector<PickleValue>& items() const;  // List, Tuple
  const std::vector<Entry>& entries() const;      // Dict, in insertion order
  const torch::Tensor& as_tensor() const;         // Tensor, Storage
  // The value of a dict's string key; null when absent or when this is not a dict.
  const PickleValue* find(const std::string& key) const;
  // For messages: "a dict", "a tensor", "an object of argparse.Namespace", ...
  std::string describe() const;

  // Building a List or Dict. A container becomes read-only once it is itself put in another one,
  // which keeps every value a tree: no cycles, a bounded depth (Error beyond it).
  void append(PickleValue item);
  void set(PickleValue key, PickleValue value);  // a key already there is replaced

 private:
  struct Node;
  void adopt(PickleValue& child);  // freezes `child`, checks depth and self-insertion

  Kind kind_ = Kind::None;
  int64_t int_ = 0;
  double float_ = 0;
  std::string text_;
  torch::Tensor tensor_;
  std::shared_ptr<Node> node_;  // List, Tuple, Dict
};

// The persistent id of a storage, as torch.save writes it: ('storage', torch.FloatStorage (or the
// dtype's other storage class), key, location, element count).
PickleValue storage_persistent_id(torch::ScalarType dtype, const std::string& key, int64_t numel);
// The dtype of a storage class name ("torch.FloatStorage", "torch.cuda.HalfStorage", ...); throws
// Error for any other name.
torch::ScalarType storage_dtype(const std::string& storage_class, const std::string& what);

// Reads a pickle. `persistent` turns each persistent id (BINPERSID) into its value (for torch.save:
// a Storage); `what` names the source in errors.
PickleValue unpickle(const uint8_t* data, size_t size,
                     const std::function<PickleValue(const PickleValue& id)>& persistent,
                     const std::string& what);

// Writes `value` as protocol 2, a tensor as torch.save does: torch._utils._rebuild_tensor_v2 over
// the storage that `storage_id` names (its persistent id), read as the tensor's elements in
// row-major order from offset 0; the caller stores them so.
std::string pickle(const PickleValue& value, const std::function<PickleValue(const torch::Tensor&)>& storage_id);

}  // namespace flowlab
