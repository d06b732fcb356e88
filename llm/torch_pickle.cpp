#include "llm/torch_pickle.h"

#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

namespace janus::llm {

using kernels::DType;
using kernels::Error;

namespace {

constexpr size_t kMaxStack = 1u << 20;  // values on the stack (incl. marks)
constexpr size_t kMaxMemo = 1u << 24;   // memo entries

// Values live in the unpickler's arena and are referenced by raw pointers, so self-referencing
// containers (possible through the memo) neither leak nor recurse on destruction.
struct Value;
using VPtr = Value*;

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor };

struct Value {
  Kind kind = Kind::None;
  int64_t i = 0;
  double f = 0;
  std::string s;             // Str, Bytes, Global ("module.name")
  std::vector<VPtr> items;   // Tuple, List; Dict: key, value, key, value, ...
  TorchTensorRecord tensor;  // Tensor (name empty); Storage uses storage_key/dtype/storage_numel
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

// torch dtype objects (torch.<name>) and legacy storage classes (torch.<X>Storage).
std::optional<TorchDType> dtype_by_torch_name(const std::string& n) {
  static const std::map<std::string, TorchDType> kTable = {
      {"float32", {"float32", DType::F32, 4}},
      {"float", {"float32", DType::F32, 4}},
      {"float64", {"float64", DType::F64, 8}},
      {"double", {"float64", DType::F64, 8}},
      {"float16", {"float16", DType::F16, 2}},
      {"half", {"float16", DType::F16, 2}},
      {"bfloat16", {"bfloat16", DType::BF16, 2}},
      {"int64", {"int64", DType::I64, 8}},
      {"long", {"int64", DType::I64, 8}},
      {"int32", {"int32", DType::I32, 4}},
      {"int", {"int32", DType::I32, 4}},
      {"uint8", {"uint8", DType::U8, 1}},
      {"float8_e4m3fn", {"float8_e4m3fn", DType::F8E4M3, 1}},
      {"int8", {"int8", std::nullopt, 1}},
      {"int16", {"int16", std::nullopt, 2}},
      {"short", {"int16", std::nullopt, 2}},
      {"bool", {"bool", std::nullopt, 1}},
      {"float8_e5m2", {"float8_e5m2", std::nullopt, 1}},
      {"complex64", {"complex64", std::nullopt, 8}},
      {"complex128", {"complex128", std::nullopt, 16}},
  };
  auto it = kTable.find(n);
  if (it == kTable.end()) return std::nullopt;
  return it->second;
}

std::optional<TorchDType> dtype_by_storage_class(const std::string& cls) {
  static const std::map<std::string, std::string> kTable = {
      {"FloatStorage", "float32"},
      {"DoubleStorage", "float64"},
      {"HalfStorage", "float16"},
      {"BFloat16Storage", "bfloat16"},
      {"LongStorage", "int64"},
      {"IntStorage", "int32"},
      {"ByteStorage", "uint8"},
      {"CharStorage", "int8"},
      {"ShortStorage", "int16"},
      {"BoolStorage", "bool"},
      {"ComplexFloatStorage", "complex64"},
      {"ComplexDoubleStorage", "complex128"},
  };
  auto it = kTable.find(cls);
  if (it == kTable.end()) return std::nullopt;
  return dtype_by_torch_name(it->second);
}

bool allowed_global(const std::string& module, const std::string& name) {
  if (module == "collections" && name == "OrderedDict") return true;
  if (module == "torch._utils")
    return name == "_rebuild_tensor_v2" || name == "_rebuild_tensor_v3" || name == "_rebuild_parameter" ||
           name == "_rebuild_parameter_with_state";
  if (module == "torch.storage" && name == "UntypedStorage") return true;
  if (module == "torch") return dtype_by_storage_class(name) || dtype_by_torch_name(name);
  return false;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* d, size_t n, const std::string& file) : p_(d), end_(d + n), file_(file) {}

  VPtr run() {
    while (true) {
      const uint8_t op = u8();
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1 || marks_.size() != 0) fail("STOP with " + std::to_string(stack_.size()) + " values");
    return stack_.back();
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(file_ + ": malformed pickle (data.pkl): " + what);
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const std::string& file_;
  std::vector<VPtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, VPtr> memo_;
  std::deque<Value> arena_;

  VPtr make(Kind k) {
    arena_.emplace_back();
    arena_.back().kind = k;
    return &arena_.back();
  }

  void need(size_t n) {
    if (size_t(end_ - p_) < n) fail("truncated");
  }
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint64_t le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= uint64_t(p_[k]) << (8 * k);
    p_ += n;
    return v;
  }
  std::string bytes(uint64_t n) {
    if (n > uint64_t(end_ - p_)) fail("string of " + std::to_string(n) + " bytes runs past the end");
    std::string s(reinterpret_cast<const char*>(p_), size_t(n));
    p_ += n;
    return s;
  }
  std::string line() {
    const uint8_t* nl = static_cast<const uint8_t*>(std::memchr(p_, '\n', size_t(end_ - p_)));
    if (!nl) fail("unterminated line");
    std::string s(reinterpret_cast<const char*>(p_), size_t(nl - p_));
    p_ = nl + 1;
    return s;
  }
  void push(VPtr v) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(v);
  }
  VPtr pop() {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) fail("stack underflow");
    VPtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  VPtr top() {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) fail("stack underflow");
    return stack_.back();
  }
  std::vector<VPtr> pop_mark() {
    if (marks_.empty()) fail("no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<VPtr> out(stack_.begin() + long(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  VPtr tuple(std::vector<VPtr> items) {
    VPtr t = make(Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  void put(uint64_t idx) {
    if (memo_.size() >= kMaxMemo && !memo_.count(idx)) fail("memo too large");
    memo_[idx] = top();
  }
  void get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo key " + std::to_string(idx) + " not defined");
    push(it->second);
  }
  VPtr integer(int64_t v) {
    VPtr x = make(Kind::Int);
    x->i = v;
    return x;
  }
  VPtr global(const std::string& module, const std::string& name) {
    if (!allowed_global(module, name))
      throw Error(file_ + ": refusing to load: pickle references " + module + "." + name +
                  " (only tensor rebuilds, storages, dtypes and OrderedDict are allowed)");
    VPtr g = make(Kind::Global);
    g->s = module + "." + name;
    return g;
  }
  void set_items(Value& d, std::vector<VPtr>& kv) {
    if (d.kind != Kind::Dict) fail(std::string("SETITEMS on a ") + kind_name(d.kind));
    if (kv.size() % 2) fail("SETITEMS with an odd number of values");
    for (VPtr v : kv) d.items.push_back(v);
  }
  void append_items(Value& l, std::vector<VPtr>& vs) {
    if (l.kind != Kind::List) fail(std::string("APPENDS on a ") + kind_name(l.kind));
    for (VPtr v : vs) l.items.push_back(v);
  }

  // ---- torch semantics ----
  const Value& arg(const Value& args, size_t k, Kind want, const char* what) {
    if (k >= args.items.size()) fail(std::string(what) + ": missing argument " + std::to_string(k));
    const Value& a = *args.items[k];
    if (a.kind != want)
      fail(std::string(what) + ": argument " + std::to_string(k) + " is a " + kind_name(a.kind) + ", expected " +
           kind_name(want));
    return a;
  }
  kernels::Shape int_tuple(const Value& v, const char* what) {
    kernels::Shape s;
    for (const auto& e : v.items) {
      if (e->kind != Kind::Int) fail(std::string(what) + ": expected a tuple of ints");
      s.push_back(e->i);
    }
    return s;
  }
  VPtr persistent(const Value& pid) {
    if (pid.kind != Kind::Tuple || pid.items.size() != 5 || pid.items[0]->kind != Kind::Str ||
        pid.items[0]->s != "storage")
      fail("persistent id is not ('storage', class, key, location, numel)");
    const Value& cls = arg(pid, 1, Kind::Global, "persistent id");
    const Value& key = arg(pid, 2, Kind::Str, "persistent id");
    arg(pid, 3, Kind::Str, "persistent id");
    const Value& numel = arg(pid, 4, Kind::Int, "persistent id");
    if (numel.i < 0) fail("persistent id: negative numel");
    VPtr st = make(Kind::Storage);
    st->tensor.storage_key = key.s;
    st->tensor.storage_numel = numel.i;
    if (cls.s == "torch.storage.UntypedStorage") {
      st->tensor.dtype = {"untyped", std::nullopt, 1};  // element count is in bytes; dtype comes later
    } else {
      auto dt = dtype_by_storage_class(cls.s.substr(6));
      if (cls.s.rfind("torch.", 0) != 0 || !dt) fail("persistent id: '" + cls.s + "' is not a storage class");
      st->tensor.dtype = *dt;
    }
    return st;
  }
  VPtr rebuild_tensor(const Value& args, bool v3) {
    const char* what = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
    if (args.items.size() < (v3 ? 7u : 6u) || args.items.size() > (v3 ? 8u : 7u))
      fail(std::string(what) + ": " + std::to_string(args.items.size()) + " arguments");
    const Value& st = arg(args, 0, Kind::Storage, what);
    VPtr t = make(Kind::Tensor);
    t->tensor = st.tensor;
    t->tensor.offset = arg(args, 1, Kind::Int, what).i;
    t->tensor.shape = int_tuple(arg(args, 2, Kind::Tuple, what), what);
    t->tensor.strides = int_tuple(arg(args, 3, Kind::Tuple, what), what);
    if (v3) {
      const Value& dt = arg(args, 6, Kind::Global, what);
      auto d = dt.s.rfind("torch.", 0) == 0 ? dtype_by_torch_name(dt.s.substr(6)) : std::nullopt;
      if (!d) fail(std::string(what) + ": '" + dt.s + "' is not a dtype");
      if (st.tensor.dtype.name == "untyped") {
        if (st.tensor.storage_numel % int64_t(d->element_size))
          fail(std::string(what) + ": untyped storage of " + std::to_string(st.tensor.storage_numel) +
               " bytes is not a whole number of " + d->name);
        t->tensor.storage_numel = st.tensor.storage_numel / int64_t(d->element_size);
      } else if (st.tensor.dtype.name != d->name) {
        fail(std::string(what) + ": storage is " + st.tensor.dtype.name + " but dtype is " + d->name);
      }
      t->tensor.dtype = *d;
    } else if (st.tensor.dtype.name == "untyped") {
      fail("_rebuild_tensor_v2 on an untyped storage");
    }
    if (t->tensor.shape.size() != t->tensor.strides.size()) fail(std::string(what) + ": size/stride rank mismatch");
    return t;
  }
  VPtr reduce(const Value& fn, const Value& args) {
    if (fn.kind != Kind::Global) fail(std::string("REDUCE on a ") + kind_name(fn.kind));
    if (args.kind != Kind::Tuple) fail("REDUCE arguments are not a tuple");
    if (fn.s == "collections.OrderedDict") {
      VPtr d = make(Kind::Dict);
      if (args.items.empty()) return d;
      if (args.items.size() == 1 && args.items[0]->kind == Kind::List) {
        for (const auto& pair : args.items[0]->items) {
          if ((pair->kind != Kind::Tuple && pair->kind != Kind::List) || pair->items.size() != 2)
            fail("OrderedDict: items are not pairs");
          d->items.push_back(pair->items[0]);
          d->items.push_back(pair->items[1]);
        }
        return d;
      }
      fail("OrderedDict: unexpected arguments");
    }
    if (fn.s == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(args, false);
    if (fn.s == "torch._utils._rebuild_tensor_v3") return rebuild_tensor(args, true);
    if (fn.s == "torch._utils._rebuild_parameter" || fn.s == "torch._utils._rebuild_parameter_with_state") {
      arg(args, 0, Kind::Tensor, fn.s.c_str());
      return args.items[0];
    }
    fail("'" + fn.s + "' is not callable here");
  }

  void step(uint8_t op) {
    switch (op) {
      case 0x80: u8(); return;   // PROTO
      case 0x95: le(8); return;  // FRAME (we read the whole image anyway)
      case '(':
        marks_.push_back(stack_.size());
        if (marks_.size() > kMaxStack) fail("too many MARKs");
        return;
      case ')': push(make(Kind::Tuple)); return;
      case ']': push(make(Kind::List)); return;
      case '}': push(make(Kind::Dict)); return;
      case 'l': {
        VPtr l = make(Kind::List);
        l->items = pop_mark();
        push(l);
        return;
      }
      case 'd': {
        auto kv = pop_mark();
        VPtr d = make(Kind::Dict);
        set_items(*d, kv);
        push(d);
        return;
      }
      case 't': push(tuple(pop_mark())); return;
      case 0x85: {
        VPtr a = pop();
        push(tuple({a}));
        return;
      }
      case 0x86: {
        VPtr b = pop(), a = pop();
        push(tuple({a, b}));
        return;
      }
      case 0x87: {
        VPtr c = pop(), b = pop(), a = pop();
        push(tuple({a, b, c}));
        return;
      }
      case 'N': push(make(Kind::None)); return;
      case 0x88:
      case 0x89: {
        VPtr b = make(Kind::Bool);
        b->i = op == 0x88;
        push(b);
        return;
      }
      case 'J': push(integer(int32_t(uint32_t(le(4))))); return;
      case 'K': push(integer(le(1))); return;
      case 'M': push(integer(le(2))); return;
      case 0x8a: {  // LONG1: little-endian two's complement, up to 8 bytes here
        const size_t n = u8();
        if (n > 8) fail("LONG1 integer wider than 64 bits");
        uint64_t v = n ? le(n) : 0;
        if (n && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
        push(integer(int64_t(v)));
        return;
      }
      case 'G': {
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | u8();  // big-endian double
        VPtr f = make(Kind::Float);
        std::memcpy(&f->f, &bits, 8);
        push(f);
        return;
      }
      case 'X':
      case 0x8c:
      case 0x8d:
      case 'U':
      case 'T':
      case 'B':
      case 'C':
      case 0x8e: {
        const bool unicode = op == 'X' || op == 0x8c || op == 0x8d;
        const size_t w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        VPtr s = make(unicode ? Kind::Str : Kind::Bytes);
        s->s = bytes(le(w));
        push(s);
        return;
      }
      case 'q': put(le(1)); return;
      case 'r': put(le(4)); return;
      case 0x94: put(memo_.size()); return;  // MEMOIZE
      case 'h': get(le(1)); return;
      case 'j': get(le(4)); return;
      case '0': pop(); return;
      case '1': pop_mark(); return;
      case '2': push(top()); return;
      case 'c': {
        std::string module = line(), name = line();
        push(global(module, name));
        return;
      }
      case 0x93: {  // STACK_GLOBAL
        VPtr name = pop(), module = pop();
        if (name->kind != Kind::Str || module->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
        push(global(module->s, name->s));
        return;
      }
      case 'Q': {
        VPtr pid = pop();
        push(persistent(*pid));
        return;
      }
      case 'P': fail("text persistent ids (PERSID) are not used by torch zip checkpoints");
      case 'R': {
        VPtr args = pop(), fn = pop();
        push(reduce(*fn, *args));
        return;
      }
      case 'b': {  // BUILD: state of an OrderedDict (_metadata) or a Parameter; ignored
        pop();
        const Value& target = *top();
        if (target.kind != Kind::Dict && target.kind != Kind::Tensor)
          fail(std::string("BUILD on a ") + kind_name(target.kind));
        return;
      }
      case 's': {
        VPtr v = pop(), k = pop();
        std::vector<VPtr> kv{k, v};
        set_items(*top(), kv);
        return;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(*top(), kv);
        return;
      }
      case 'a': {
        VPtr v = pop();
        std::vector<VPtr> vs{v};
        append_items(*top(), vs);
        return;
      }
      case 'e': {
        auto vs = pop_mark();
        append_items(*top(), vs);
        return;
      }
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", op);
        throw Error(file_ + ": refusing to load: pickle opcode " + buf +
                    " is not allowed (only plain values and tensor rebuilds)");
      }
    }
  }
};

}  // namespace

std::vector<TorchTensorRecord> unpickle_state_dict(const uint8_t* data, size_t size, const std::string& file) {
  Unpickler u(data, size, file);
  VPtr root = u.run();
  if (root->kind != Kind::Dict)
    throw Error(file + ": the pickle holds a " + kind_name(root->kind) + ", expected a state dict (str -> tensor)");
  std::vector<TorchTensorRecord> out;
  std::map<std::string, size_t> index;
  for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
    const Value& key = *root->items[k];
    const Value& val = *root->items[k + 1];
    if (key.kind != Kind::Str)
      throw Error(file + ": state dict key is a " + std::string(kind_name(key.kind)) + ", expected str");
    if (val.kind != Kind::Tensor)
      throw Error(file + ": state dict entry '" + key.s + "' is a " + kind_name(val.kind) + ", expected a tensor");
    TorchTensorRecord r = val.tensor;
    r.name = key.s;
    auto it = index.find(r.name);
    if (it != index.end()) {
      out[it->second] = std::move(r);
    } else {
      index.emplace(r.name, out.size());
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace janus::llm
