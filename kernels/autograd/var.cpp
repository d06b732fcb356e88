// The tape: leaves, recorded nodes, gradient accumulation and the reverse sweep (var.h).
#include "kernels/autograd/var.h"

#include <cstring>
#include <unordered_set>

namespace janus::kernels::ag {

namespace {
thread_local bool g_grad_enabled = true;

void check_float(const Tensor& t, const char* what) {
  if (!t.defined()) throw Error(std::string(what) + ": undefined tensor");
  if (t.dtype() != DType::F32 && t.dtype() != DType::F64)
    throw Error(std::string(what) + ": autograd values must be f32 or f64, got " + dtype_name(t.dtype()));
  if (t.device() != Device::CPU) throw Error(std::string(what) + ": autograd runs on CPU tensors");
}

template <typename T>
void add_into(Tensor& dst, const Tensor& src) {
  T* d = dst.data<T>();
  const T* s = src.data<T>();
  const int64_t n = dst.numel();
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}
}  // namespace

Node::~Node() {
  // Move the inputs out to a local stack and release them one at a time, so a long chain is
  // destroyed iteratively instead of by nested destructor calls.
  std::vector<std::shared_ptr<Node>> stack;
  auto take = [&stack](Node& n) {
    for (Var& v : n.inputs)
      if (v.node_) stack.push_back(std::move(v.node_));
    n.inputs.clear();
    n.backward = nullptr;
  };
  take(*this);
  while (!stack.empty()) {
    std::shared_ptr<Node> p = std::move(stack.back());
    stack.pop_back();
    if (p.use_count() == 1) take(*p);
  }
}

Var Var::leaf(Tensor value, bool requires_grad) {
  check_float(value, "Var::leaf");
  Var v;
  v.node_ = std::make_shared<Node>();
  v.node_->value = std::move(value);
  v.node_->requires_grad = requires_grad;
  return v;
}

const Tensor& Var::value() const {
  if (!node_) throw Error("Var::value: undefined Var");
  return node_->value;
}

bool Var::requires_grad() const { return node_ && node_->requires_grad; }

Tensor& Var::grad() const {
  if (!node_) throw Error("Var::grad: undefined Var");
  if (!node_->grad.defined()) node_->grad = Tensor::zeros(node_->value.shape(), node_->value.dtype());
  return node_->grad;
}

bool Var::has_grad() const { return node_ && node_->grad.defined(); }

void Var::zero_grad() const {
  if (has_grad()) std::memset(node_->grad.raw(), 0, node_->grad.nbytes());
}

void Var::clear_grad() const {
  if (node_) node_->grad = Tensor();
}

void Var::set_requires_grad(bool requires_grad) const {
  if (!node_) throw Error("Var::set_requires_grad: undefined Var");
  if (node_->backward || node_->consumed)
    throw Error(std::string("Var::set_requires_grad: only leaves can be frozen, this Var comes from '") +
                node_->op_name + "'");
  node_->requires_grad = requires_grad;
}

void Var::retain_grad() const {
  if (node_ && node_->backward) node_->retain_grad = true;
}

Var Var::from_op(Tensor value, std::vector<Var> inputs, BackwardFn backward, const char* op_name) {
  check_float(value, op_name);
  Var v;
  v.node_ = std::make_shared<Node>();
  v.node_->value = std::move(value);
  v.node_->op_name = op_name;
  bool needs = false;
  if (g_grad_enabled)
    for (const Var& in : inputs) needs = needs || in.requires_grad();
  if (needs) {
    v.node_->requires_grad = true;
    v.node_->inputs = std::move(inputs);
    v.node_->backward = std::move(backward);
  }
  return v;
}

void accumulate_grad(Node* node, const Tensor& g) {
  if (!node) return;
  if (g.shape() != node->value.shape() || g.dtype() != node->value.dtype())
    throw Error(std::string("accumulate_grad (") + node->op_name + "): gradient " + shape_str(g.shape()) + " " +
                dtype_name(g.dtype()) + " for a value " + shape_str(node->value.shape()) + " " +
                dtype_name(node->value.dtype()));
  if (!node->grad.defined()) {
    node->grad = g.clone();
    return;
  }
  const Tensor src = g.contiguous();
  if (g.dtype() == DType::F64)
    add_into<double>(node->grad, src);
  else
    add_into<float>(node->grad, src);
}

void accumulate_grad_adopt(Node* node, Tensor g) {
  if (!node) return;
  if (!node->grad.defined() && g.is_contiguous() && g.shape() == node->value.shape() &&
      g.dtype() == node->value.dtype()) {
    node->grad = std::move(g);
    return;
  }
  accumulate_grad(node, g);
}

namespace {
void run_backward(const std::shared_ptr<Node>& root) {
  // Post-order DFS (iterative) over the nodes that carry a backward function.
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack;
  stack.push_back({root.get(), 0});
  seen.insert(root.get());
  while (!stack.empty()) {
    auto& [n, i] = stack.back();
    if (i < n->inputs.size()) {
      Node* c = n->inputs[i++].node().get();
      if (c && c->consumed && c->requires_grad)
        throw Error(std::string("backward: the graph through '") + c->op_name +
                    "' was already run backward (intermediates are released after backward)");
      if (c && c->backward && !seen.count(c)) {
        seen.insert(c);
        stack.push_back({c, 0});
      }
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  // Keep every node alive while the graph is dismantled below.
  std::vector<std::shared_ptr<Node>> hold;
  hold.reserve(order.size());
  for (Node* n : order)
    for (const Var& in : n->inputs)
      if (in.node()) hold.push_back(in.node());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    if (n->grad.defined()) {
      const Tensor g = n->grad;
      n->backward(g);
    }
    n->backward = nullptr;
    n->inputs.clear();
    n->consumed = true;
    if (!n->retain_grad && n != root.get()) n->grad = Tensor();
  }
  // Release in creation order (outputs last), each drop freeing at most its own node.
  while (!hold.empty()) hold.pop_back();
}

void check_root(const Var& out, const char* what) {
  if (!out.defined()) throw Error(std::string(what) + ": undefined Var");
  if (out.node()->consumed) throw Error(std::string(what) + ": this graph has already been run backward");
  if (!out.requires_grad()) throw Error(std::string(what) + ": the output does not require a gradient");
}
}  // namespace

void backward(const Var& loss, double seed) {
  check_root(loss, "backward");
  if (loss.numel() != 1)
    throw Error("backward: the loss must have one element, got " + shape_str(loss.shape()) +
                " (pass an explicit output gradient)");
  Tensor g = Tensor::empty(loss.shape(), loss.dtype());
  if (g.dtype() == DType::F64)
    g.data<double>()[0] = seed;
  else
    g.data<float>()[0] = float(seed);
  backward(loss, g);
}

void backward(const Var& out, const Tensor& grad_out) {
  check_root(out, "backward");
  Node* root = out.node().get();
  if (!root->backward) {  // a leaf: its own gradient only
    accumulate_grad(root, grad_out);
    return;
  }
  // The root's own grad: saved, replaced by grad_out for the sweep, then restored + grad_out.
  Tensor prev = root->grad;
  root->grad = Tensor();
  accumulate_grad(root, grad_out);
  Tensor seeded = root->grad;
  run_backward(out.node());
  if (root->retain_grad) {
    root->grad = prev;
    accumulate_grad(root, seeded);
  } else {
    root->grad = Tensor();
  }
}

Var checkpoint(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Var>& inputs, const char* name) {
  Var out;
  {
    NoGradGuard ng;
    out = f(inputs);
  }
  if (!g_grad_enabled) return out;
  std::vector<Tensor> values;
  std::vector<Node*> sinks;
  for (const Var& in : inputs) {
    values.push_back(in.defined() ? in.value() : Tensor());
    sinks.push_back(in.defined() && in.requires_grad() ? in.node().get() : nullptr);
  }
  Var v;
  v.node_ = std::make_shared<Node>();
  v.node_->value = out.value();
  v.node_->op_name = name;
  v.node_->requires_grad = true;
  v.node_->inputs = inputs;
  v.node_->backward = [f, values, sinks](const Tensor& g) {
    // Recompute the block on fresh leaves with grad mode on, then backprop through it: the
    // inputs' grads are collected from the leaves, parameters used inside f (leaves captured by
    // f) accumulate their own.
    std::vector<Var> leaves;
    for (size_t i = 0; i < values.size(); ++i)
      leaves.push_back(values[i].defined() ? Var::leaf(values[i], sinks[i] != nullptr) : Var());
    const bool prev = g_grad_enabled;
    g_grad_enabled = true;
    Var o;
    try {
      o = f(leaves);
    } catch (...) {
      g_grad_enabled = prev;
      throw;
    }
    g_grad_enabled = prev;
    if (o.requires_grad()) backward(o, g);
    for (size_t i = 0; i < leaves.size(); ++i)
      if (sinks[i] && leaves[i].has_grad()) accumulate_grad_adopt(sinks[i], leaves[i].grad());
  };
  return v;
}

NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }
bool grad_enabled() { return g_grad_enabled; }

}  // namespace janus::kernels::ag
