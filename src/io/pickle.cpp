#include "flowlab/io/pickle.h"

#include <cstring>
#include <limits>
#include <map>

#include "flowlab/error.h"

namespace flowlab {

// ---- values ----------------------------------------------------------------------------------

struct PickleValue::Node {
  std::vector<PickleValue> items;
  std::vector<Entry> entries;
  bool frozen = false;  // put in another container: read-only from then on
  int depth = 1;        // containers on the longest path down from this one, itself included
};

namespace {

// Deeper nesting than any checkpoint has; also bounds the recursion of destroying a value.
constexpr int kMaxDepth = 200;

const char* kind_name(PickleValue::Kind kind) {
  using K = PickleValue::Kind;
  switch (kind) {
    case K::None: return "None";
    case K::Bool: return "a bool";
    case K::Int: return "an int";
    case K::Float: return "a float";
    case K::String: return "a string";
    case K::Bytes: return "bytes";
    case K::List: return "a list";
    case K::Tuple: return "a tuple";
    case K::Dict: return "a dict";
    case K::Tensor: return "a tensor";
    case K::Storage: return "a storage";
    case K::Global: return "a global";
    case K::Object: return "an object";
  }
  return "a value";
}

}  // namespace

PickleValue PickleValue::boolean(bool value) {
  PickleValue v;
  v.kind_ = Kind::Bool;
  v.int_ = value;
  return v;
}

PickleValue PickleValue::integer(int64_t value) {
  PickleValue v;
  v.kind_ = Kind::Int;
  v.int_ = value;
  return v;
}

PickleValue PickleValue::number(double value) {
  PickleValue v;
  v.kind_ = Kind::Float;
  v.float_ = value;
  return v;
}

PickleValue PickleValue::string(std::string text) {
  PickleValue v;
  v.kind_ = Kind::String;
  v.text_ = std::move(text);
  return v;
}

PickleValue PickleValue::bytes(std::string data) {
  PickleValue v = string(std::move(data));
  v.kind_ = Kind::Bytes;
  return v;
}

PickleValue PickleValue::list(std::vector<PickleValue> items) {
  PickleValue v;
  v.kind_ = Kind::List;
  v.node_ = std::make_shared<Node>();
  for (auto& item : items) v.append(std::move(item));
  return v;
}

PickleValue PickleValue::tuple(std::vector<PickleValue> items) {
  PickleValue v = list(std::move(items));
  v.kind_ = Kind::Tuple;
  return v;
}

PickleValue PickleValue::dict(std::vector<Entry> entries) {
  PickleValue v;
  v.kind_ = Kind::Dict;
  v.node_ = std::make_shared<Node>();
  for (auto& [key, value] : entries) v.set(std::move(key), std::move(value));
  return v;
}

PickleValue PickleValue::tensor(torch::Tensor tensor) {
  PickleValue v;
  v.kind_ = Kind::Tensor;
  v.tensor_ = std::move(tensor);
  return v;
}

PickleValue PickleValue::storage(torch::Tensor elements) {
  PickleValue v = tensor(std::move(elements));
  v.kind_ = Kind::Storage;
  return v;
}

PickleValue PickleValue::global(const std::string& module, const std::string& name) {
  PickleValue v;
  v.kind_ = Kind::Global;
  v.text_ = module + "." + name;
  return v;
}

PickleValue PickleValue::object(std::string class_name) {
  PickleValue v;
  v.kind_ = Kind::Object;
  v.text_ = std::move(class_name);
  return v;
}

bool PickleValue::as_bool() const {
  if (kind_ != Kind::Bool) throw Error(std::string("expected a bool, found ") + describe());
  return int_ != 0;
}

int64_t PickleValue::as_int() const {
  if (kind_ != Kind::Int) throw Error(std::string("expected an int, found ") + describe());
  return int_;
}

double PickleValue::as_float() const {
  if (kind_ == Kind::Int) return static_cast<double>(int_);
  if (kind_ != Kind::Float) throw Error(std::string("expected a float, found ") + describe());
  return float_;
}

const std::string& PickleValue::as_string() const {
  if (kind_ != Kind::String && kind_ != Kind::Bytes && kind_ != Kind::Global && kind_ != Kind::Object)
    throw Error(std::string("expected a string, found ") + describe());
  return text_;
}

const std::vector<PickleValue>& PickleValue::items() const {
  if (kind_ != Kind::List && kind_ != Kind::Tuple)
    throw Error(std::string("expected a list or tuple, found ") + describe());
  return node_->items;
}

const std::vector<PickleValue::Entry>& PickleValue::entries() const {
  if (kind_ != Kind::Dict) throw Error(std::string("expected a dict, found ") + describe());
  return node_->entries;
}

const torch::Tensor& PickleValue::as_tensor() const {
  if (kind_ != Kind::Tensor && kind_ != Kind::Storage)
    throw Error(std::string("expected a tensor, found ") + describe());
  return tensor_;
}

const PickleValue* PickleValue::find(const std::string& key) const {
  if (kind_ != Kind::Dict) return nullptr;
  for (const auto& [k, v] : node_->entries)
    if (k.kind_ == Kind::String && k.text_ == key) return &v;
  return nullptr;
}

std::string PickleValue::describe() const {
  if (kind_ == Kind::Object) return "an object of " + text_;
  if (kind_ == Kind::Global) return "the global " + text_;
  return kind_name(kind_);
}

void PickleValue::adopt(PickleValue& child) {
  if (!node_) throw Error(std::string("cannot add to ") + describe());
  if (node_->frozen) throw Error("a container is changed after it was put in another one");
  if (child.node_) {
    if (child.node_ == node_) throw Error("a container is put inside itself");
    child.node_->frozen = true;
    node_->depth = std::max(node_->depth, child.node_->depth + 1);
    if (node_->depth > kMaxDepth)
      throw Error("containers nested deeper than " + std::to_string(kMaxDepth) + " levels");
  }
}

void PickleValue::append(PickleValue item) {
  if (kind_ != Kind::List) throw Error(std::string("cannot append to ") + describe());
  adopt(item);
  node_->items.push_back(std::move(item));
}

void PickleValue::set(PickleValue key, PickleValue value) {
  if (kind_ != Kind::Dict) throw Error(std::string("cannot set an item of ") + describe());
  adopt(key);
  adopt(value);
  for (auto& entry : node_->entries) {
    const auto& k = entry.first;
    bool same = k.kind_ == key.kind_ &&
                ((k.kind_ == Kind::String && k.text_ == key.text_) || (k.kind_ == Kind::Int && k.int_ == key.int_));
    if (same) {
      entry.second = std::move(value);
      return;
    }
  }
  node_->entries.emplace_back(std::move(key), std::move(value));
}

// ---- storages ----------------------------------------------------------------------------------

namespace {

const std::vector<std::pair<const char*, torch::ScalarType>>& storage_classes() {
  static const std::vector<std::pair<const char*, torch::ScalarType>> classes = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64},
      {"HalfStorage", torch::kFloat16},  {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool},
      {"UntypedStorage", torch::kUInt8}};
  return classes;
}

}  // namespace

PickleValue storage_persistent_id(torch::ScalarType dtype, const std::string& key, int64_t numel) {
  for (const auto& [name, type] : storage_classes())
    if (type == dtype && std::strcmp(name, "UntypedStorage") != 0)
      return PickleValue::tuple({PickleValue::string("storage"), PickleValue::global("torch", name),
                                 PickleValue::string(key), PickleValue::string("cpu"), PickleValue::integer(numel)});
  throw Error(std::string("no torch.save storage class for dtype ") + c10::toString(dtype));
}

torch::ScalarType storage_dtype(const std::string& storage_class, const std::string& what) {
  for (const char* prefix : {"torch.", "torch.cuda."})
    for (const auto& [name, type] : storage_classes())
      if (storage_class == std::string(prefix) + name) return type;
  throw Error(what + ": unknown storage class " + storage_class);
}

// ---- reading -----------------------------------------------------------------------------------

namespace {

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const std::function<PickleValue(const PickleValue&)>& persistent)
      : p_(data), end_(data + size), persistent_(persistent) {}

  PickleValue run() {
    while (true) {
      uint8_t op = byte();
      switch (op) {
        case 0x80: {  // PROTO
          uint8_t protocol = byte();
          if (protocol > 4) fail("pickle protocol " + std::to_string(protocol) + " (this reader takes 2 to 4)");
          break;
        }
        case 0x95: take(8); break;  // FRAME: a length hint only
        case '.': {                 // STOP
          if (stack_.size() != 1 || !marks_.empty()) fail("the pickle ends with an unbalanced stack");
          return std::move(stack_.back());
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '0': pop(); break;                            // POP
        case '1': pop_mark(); break;                       // POP_MARK
        case '2': push(top()); break;                      // DUP
        case 'N': push(PickleValue()); break;
        case 0x88: push(PickleValue::boolean(true)); break;
        case 0x89: push(PickleValue::boolean(false)); break;
        case 'J': push(PickleValue::integer(static_cast<int32_t>(unsigned_le(4)))); break;  // BININT
        case 'K': push(PickleValue::integer(static_cast<int64_t>(unsigned_le(1)))); break;  // BININT1
        case 'M': push(PickleValue::integer(static_cast<int64_t>(unsigned_le(2)))); break;  // BININT2
        case 0x8a: push(PickleValue::integer(long_int(unsigned_le(1)))); break;             // LONG1
        case 0x8b: push(PickleValue::integer(long_int(unsigned_le(4)))); break;             // LONG4
        case 'G': push(PickleValue::number(big_endian_double())); break;                    // BINFLOAT
        case 'X': push(PickleValue::string(text(unsigned_le(4)))); break;                   // BINUNICODE
        case 0x8c: push(PickleValue::string(text(unsigned_le(1)))); break;                  // SHORT_BINUNICODE
        case 0x8d: push(PickleValue::string(text(unsigned_le(8)))); break;                  // BINUNICODE8
        case 'U': push(PickleValue::string(text(unsigned_le(1)))); break;                   // SHORT_BINSTRING
        case 'T': push(PickleValue::string(text(unsigned_le(4)))); break;                   // BINSTRING
        case 'C': push(PickleValue::bytes(text(unsigned_le(1)))); break;                    // SHORT_BINBYTES
        case 'B': push(PickleValue::bytes(text(unsigned_le(4)))); break;                    // BINBYTES
        case 0x8e: push(PickleValue::bytes(text(unsigned_le(8)))); break;                   // BINBYTES8
        case ']': push(PickleValue::list()); break;                                         // EMPTY_LIST
        case '}': push(PickleValue::dict()); break;                                         // EMPTY_DICT
        case ')': push(PickleValue::tuple()); break;                                        // EMPTY_TUPLE
        case 0x8f: push(PickleValue::list()); break;  // EMPTY_SET, read as a list
        case 'l': push(PickleValue::list(pop_mark())); break;                               // LIST
        case 't': push(PickleValue::tuple(pop_mark())); break;                              // TUPLE
        case 0x85: push(PickleValue::tuple(pop_n(1))); break;                               // TUPLE1
        case 0x86: push(PickleValue::tuple(pop_n(2))); break;                               // TUPLE2
        case 0x87: push(PickleValue::tuple(pop_n(3))); break;                               // TUPLE3
        case 0x91: push(PickleValue::list(pop_mark())); break;  // FROZENSET, read as a list
        case 'd': push(dict_of(pop_mark())); break;             // DICT
        case 'a': {                                              // APPEND
          auto item = pop();
          top().append(std::move(item));
          break;
        }
        case 'e': case 0x90: {  // APPENDS, ADDITEMS
          auto items = pop_mark();
          auto& list = top();
          for (auto& item : items) list.append(std::move(item));
          break;
        }
        case 's': {  // SETITEM
          auto value = pop();
          auto key = pop();
          top().set(std::move(key), std::move(value));
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          if (items.size() % 2) fail("SETITEMS with an odd number of items");
          auto& dict = top();
          for (size_t i = 0; i < items.size(); i += 2) dict.set(std::move(items[i]), std::move(items[i + 1]));
          break;
        }
        case 'q': memo_put(unsigned_le(1)); break;             // BINPUT
        case 'r': memo_put(unsigned_le(4)); break;             // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;              // MEMOIZE
        case 'h': push(memo_get(unsigned_le(1))); break;       // BINGET
        case 'j': push(memo_get(unsigned_le(4))); break;       // LONG_BINGET
        case 'c': {                                            // GLOBAL
          auto module = line();
          auto name = line();
          push(PickleValue::global(module, name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop();
          auto module = pop();
          if (!module.is(PickleValue::Kind::String) || !name.is(PickleValue::Kind::String))
            fail("STACK_GLOBAL without two strings");
          push(PickleValue::global(module.as_string(), name.as_string()));
          break;
        }
        case 'R': {  // REDUCE
          auto args = pop();
          auto callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          pop();
          push(instance_of(pop()));
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          pop();
          pop();
          push(instance_of(pop()));
          break;
        }
        case 'b': pop(); break;  // BUILD: the state of an object is not kept
        case 'Q': {              // BINPERSID
          auto id = pop();
          if (!persistent_) fail("a persistent id, and none is expected here");
          push(persistent_(id));
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "0x%02x", op);
          fail(std::string("opcode ") + hex + " (not one torch.save writes)");
        }
      }
    }
  }

 private:
  [[noreturn]] static void fail(const std::string& message) { throw Error(message); }

  uint8_t byte() {
    if (p_ >= end_) fail("truncated pickle");
    return *p_++;
  }
  const uint8_t* take(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) fail("truncated pickle");
    auto at = p_;
    p_ += n;
    return at;
  }
  uint64_t unsigned_le(int bytes) {
    auto at = take(bytes);
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | at[i];
    return v;
  }
  // LONG1/LONG4: n bytes of little-endian two's complement; flowlab's values fit 64 bits.
  int64_t long_int(uint64_t n) {
    if (n > 8) fail("an integer wider than 64 bits");
    if (n == 0) return 0;
    auto at = take(n);
    uint64_t v = 0;
    for (int i = static_cast<int>(n) - 1; i >= 0; --i) v = (v << 8) | at[i];
    if (n < 8 && (at[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double big_endian_double() {
    auto at = take(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | at[i];
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string text(uint64_t n) {
    auto at = take(n);
    return std::string(reinterpret_cast<const char*>(at), n);
  }
  std::string line() {
    auto start = p_;
    while (p_ < end_ && *p_ != '\n') {
      if (p_ - start > 256) fail("a GLOBAL name longer than 256 characters");
      ++p_;
    }
    if (p_ >= end_) fail("truncated pickle");
    return std::string(reinterpret_cast<const char*>(start), p_++ - start);
  }

  void push(PickleValue v) { stack_.push_back(std::move(v)); }
  PickleValue& top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() >= stack_.size())) fail("stack underflow");
    return stack_.back();
  }
  PickleValue pop() {
    auto v = std::move(top());
    stack_.pop_back();
    return v;
  }
  std::vector<PickleValue> pop_n(size_t n) {
    size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) fail("stack underflow");
    std::vector<PickleValue> items(std::make_move_iterator(stack_.end() - n), std::make_move_iterator(stack_.end()));
    stack_.resize(stack_.size() - n);
    return items;
  }
  std::vector<PickleValue> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleValue> items(std::make_move_iterator(stack_.begin() + mark), std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  void memo_put(uint64_t index) {
    if (index > memo_.size() + (1u << 20)) fail("memo index out of range");
    memo_[index] = top();
  }
  PickleValue memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " read before it is written");
    return it->second;
  }

  PickleValue dict_of(std::vector<PickleValue> items) {
    if (items.size() % 2) fail("DICT with an odd number of items");
    auto dict = PickleValue::dict();
    for (size_t i = 0; i < items.size(); i += 2) dict.set(std::move(items[i]), std::move(items[i + 1]));
    return dict;
  }

  static PickleValue instance_of(const PickleValue& cls) {
    return PickleValue::object(cls.is(PickleValue::Kind::Global) ? cls.as_string() : "an unknown class");
  }

  // REDUCE: the few functions torch.save's pickles call are rebuilt; anything else is opaque.
  PickleValue reduce(const PickleValue& callable, const PickleValue& args) {
    if (!callable.is(PickleValue::Kind::Global)) return PickleValue::object("the result of a call");
    if (!args.is(PickleValue::Kind::Tuple)) fail("REDUCE arguments that are not a tuple");
    const auto& name = callable.as_string();
    const auto& a = args.items();
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      if (a.empty()) return PickleValue::dict();
      auto dict = PickleValue::dict();
      for (const auto& pair : a[0].items()) {
        if (pair.items().size() != 2) fail("an OrderedDict item that is not a pair");
        dict.set(pair.items()[0], pair.items()[1]);
      }
      return dict;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      if (a.size() < 4) fail(name + " with " + std::to_string(a.size()) + " arguments");
      return PickleValue::tensor(rebuild_tensor(a[0], a[1], a[2], a[3]));
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || !a[0].is(PickleValue::Kind::Tensor)) fail(name + " without a tensor");
      return a[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2") {  // (function, type, arguments, state)
      if (a.size() < 3) fail(name + " with " + std::to_string(a.size()) + " arguments");
      auto rebuilt = reduce(a[0], a[2]);
      return rebuilt.is(PickleValue::Kind::Tensor) ? rebuilt : PickleValue::object(name);
    }
    return PickleValue::object(name);
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, ...): a view of the storage,
  // copied out. A view may not reach past the storage nor hold more elements than it.
  torch::Tensor rebuild_tensor(const PickleValue& storage, const PickleValue& offset_value,
                               const PickleValue& size_value, const PickleValue& stride_value) {
    if (!storage.is(PickleValue::Kind::Storage)) fail("a tensor rebuilt from " + storage.describe());
    const auto& elements = storage.as_tensor();
    const int64_t available = elements.numel();
    const int64_t offset = offset_value.as_int();
    const auto& sizes = size_value.items();
    const auto& strides = stride_value.items();
    if (sizes.size() != strides.size() || sizes.size() > 64) fail("a tensor whose sizes and strides disagree");
    if (offset < 0) fail("a tensor with a negative storage offset");
    std::vector<int64_t> size, stride;
    for (size_t i = 0; i < sizes.size(); ++i) {
      size.push_back(sizes[i].as_int());
      stride.push_back(strides[i].as_int());
      if (size.back() < 0 || stride.back() < 0) fail("a tensor with a negative size or stride");
    }
    for (auto n : size)
      if (n == 0) return torch::empty(size, elements.options());
    // The last element's index, offset + sum((n - 1) * s), and the element count, without overflow.
    int64_t last = offset, count = 1;
    const std::string past = "a tensor that reaches past its storage (" + std::to_string(available) + " elements)";
    if (last >= available) fail(past);
    for (size_t i = 0; i < size.size(); ++i) {
      int64_t n = size[i], s = stride[i];
      if (s > 0 && n - 1 > (available - 1 - last) / s) fail(past);
      last += (n - 1) * s;
      if (n > available / count) fail("a tensor with more elements than its storage");
      count *= n;
    }
    return elements.as_strided(size, stride, offset).clone(at::MemoryFormat::Contiguous);
  }

  const uint8_t* p_;
  const uint8_t* end_;
  const std::function<PickleValue(const PickleValue&)>& persistent_;
  std::vector<PickleValue> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, PickleValue> memo_;
};

}  // namespace

PickleValue unpickle(const uint8_t* data, size_t size,
                     const std::function<PickleValue(const PickleValue& id)>& persistent,
                     const std::string& what) {
  try {
    return Unpickler(data, size, persistent).run();
  } catch (const std::exception& e) {
    throw Error(what + ": " + one_line_message(e));
  }
}

// ---- writing -----------------------------------------------------------------------------------

namespace {

class Pickler {
 public:
  explicit Pickler(const std::function<PickleValue(const torch::Tensor&)>& storage_id) : storage_id_(storage_id) {}

  std::string run(const PickleValue& value) {
    out_ += "\x80\x02";
    write(value);
    out_ += '.';
    return std::move(out_);
  }

 private:
  void le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  void write_int(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      out_ += 'J';
      le(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {
      out_ += '\x8a';
      out_ += '\x08';
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void write_string(const std::string& s) {
    out_ += 'X';
    le(s.size(), 4);
    out_ += s;
  }
  void write_global(const std::string& module, const std::string& name) {
    out_ += 'c';
    out_ += module + "\n" + name + "\n";
  }
  void write_sequence(const std::vector<int64_t>& values) {
    out_ += '(';
    for (auto v : values) write_int(v);
    out_ += 't';
  }
  // torch._utils._rebuild_tensor_v2(storage, 0, size, row-major strides, False, OrderedDict())
  void write_tensor(const torch::Tensor& t) {
    std::vector<int64_t> strides(t.dim(), 1);
    for (int64_t d = t.dim() - 2; d >= 0; --d) strides[d] = strides[d + 1] * t.size(d + 1);
    write_global("torch._utils", "_rebuild_tensor_v2");
    out_ += '(';
    write(storage_id_(t));
    out_ += 'Q';
    write_int(0);
    write_sequence(t.sizes().vec());
    write_sequence(strides);
    out_ += '\x89';
    write_global("collections", "OrderedDict");
    out_ += ")R";
    out_ += "tR";
  }
  void write(const PickleValue& v) {
    using K = PickleValue::Kind;
    switch (v.kind()) {
      case K::None: out_ += 'N'; break;
      case K::Bool: out_ += v.as_bool() ? '\x88' : '\x89'; break;
      case K::Int: write_int(v.as_int()); break;
      case K::Float: {
        out_ += 'G';
        double d = v.as_float();
        uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        for (int i = 7; i >= 0; --i) out_ += static_cast<char>((bits >> (8 * i)) & 0xff);
        break;
      }
      case K::String: write_string(v.as_string()); break;
      case K::Bytes:
        out_ += 'B';
        le(v.as_string().size(), 4);
        out_ += v.as_string();
        break;
      case K::List:
        out_ += "](";
        for (const auto& item : v.items()) write(item);
        out_ += 'e';
        break;
      case K::Tuple:
        out_ += '(';
        for (const auto& item : v.items()) write(item);
        out_ += 't';
        break;
      case K::Dict:
        out_ += "}(";
        for (const auto& [key, value] : v.entries()) write(key), write(value);
        out_ += 'u';
        break;
      case K::Tensor: write_tensor(v.as_tensor()); break;
      case K::Global: {
        const auto& name = v.as_string();
        auto dot = name.rfind('.');
        write_global(name.substr(0, dot), name.substr(dot + 1));
        break;
      }
      case K::Storage:
      case K::Object: throw Error("pickle: cannot write " + v.describe());
    }
  }

  const std::function<PickleValue(const torch::Tensor&)>& storage_id_;
  std::string out_;
};

}  // namespace

std::string pickle(const PickleValue& value, const std::function<PickleValue(const torch::Tensor&)>& storage_id) {
  return Pickler(storage_id).run(value);
}

}  // namespace flowlab
