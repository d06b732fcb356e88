// Reverse-mode autograd: a Var is a tensor value plus the record of how it was computed.
//
// Contract
// - A Var holds a contiguous CPU tensor of dtype F32 (training) or F64 (gradient checks); every
//   float input of one op shares that dtype. Integer inputs (token ids, expert indices) are plain
//   std::vector<int64_t> or I64 tensors and carry no gradient.
// - Ops (autograd/ops.h) compute their forward eagerly and, when any input requires a gradient
//   and grad mode is on, record a Node holding the inputs it needs and its backward function.
//   Each op's backward lives beside its forward in the same .cpp.
// - backward(loss) runs the recorded graph once in reverse topological order (an iterative
//   DFS: no recursion, any depth) and accumulates (+=) into grad() of every leaf that requires
//   a gradient, so gradient accumulation over micro-batches is repeated forward/backward
//   without zero_grad(). Intermediates' grads exist only while the sweep runs (freed once their
//   backward has run) unless retain_grad() was called on them; after backward() the graph's
//   backward functions and saved tensors are released (a graph runs backward once).
//   Intermediate nodes are released when the last Var referring to them goes away
//   (iteratively: graphs of any depth are destroyed without deep recursion).
// - Not thread-safe: one graph per thread. Kernels inside an op may use the thread pool.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "kernels/tensor.h"

namespace janus::kernels::ag {

struct Node;

class Var {
 public:
  Var() = default;
  // A leaf: a parameter (requires_grad = true) or an input/constant (false). Takes the tensor
  // by handle (no copy): optimizer updates to `value` are seen by later forwards.
  static Var leaf(Tensor value, bool requires_grad);
  static Var constant(Tensor value) { return leaf(std::move(value), false); }

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  int64_t size(int d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  bool requires_grad() const;

  // The accumulated gradient, same shape and dtype as value(); allocated (zero) on first use.
  Tensor& grad() const;
  bool has_grad() const;
  void zero_grad() const;   // sets an allocated grad to 0
  void clear_grad() const;  // releases the grad (has_grad() becomes false; set_to_none)
  // Freezes / unfreezes a leaf (parameter-name patterns are applied after a model is built);
  // affects graphs recorded afterwards. Throws for a Var produced by an op.
  void set_requires_grad(bool requires_grad) const;
  // Keep this intermediate's grad after backward() (stage boundaries, tests). No-op on leaves.
  void retain_grad() const;

  // Built by ops: an output value, the inputs it depends on and the function that, given the
  // output's gradient, adds the inputs' gradients (each input's grad is accumulated by the
  // backward function itself, e.g. with accumulate_grad(), only for inputs that require one).
  // When grad mode is off or no input requires a gradient, the result is a constant and
  // `backward` is dropped. The backward function should capture tensors and, for the inputs,
  // Node pointers (kept alive by the node's `inputs`), not Vars: see grad_sink().
  using BackwardFn = std::function<void(const Tensor& grad_out)>;
  static Var from_op(Tensor value, std::vector<Var> inputs, BackwardFn backward, const char* op_name);

  const std::shared_ptr<Node>& node() const { return node_; }

 private:
  friend struct Node;
  friend Var checkpoint(const std::function<Var(const std::vector<Var>&)>&, const std::vector<Var>&, const char*);
  std::shared_ptr<Node> node_;
};

struct Node {
  Tensor value;
  Tensor grad;  // undefined until first accumulation
  bool requires_grad = false;
  bool retain_grad = false;  // intermediates only: keep grad after backward()
  bool consumed = false;     // backward() has run through this node (graph released)
  std::vector<Var> inputs;
  Var::BackwardFn backward;  // empty for leaves
  const char* op_name = "leaf";

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // releases the inputs iteratively (no recursion over deep graphs)
};

// The node to accumulate an input's gradient into, or nullptr when it needs none (capture this
// in a BackwardFn instead of the Var).
inline Node* grad_sink(const Var& v) { return v.defined() && v.requires_grad() ? v.node().get() : nullptr; }
// node->grad += g (allocating it on first use; shape and dtype must match the node's value).
// No-op for nullptr. The adopting overload takes g as the grad when none exists yet (g must not
// be aliased by anything else).
void accumulate_grad(Node* node, const Tensor& g);
void accumulate_grad_adopt(Node* node, Tensor g);

// Seeds d(loss)/d(loss) = seed (loss must have one element) and propagates to every Var the
// loss depends on. The graph may be run once (a second call throws); intermediates' grads are
// freed as it goes (see retain_grad()). Throws when loss does not require a gradient.
void backward(const Var& loss, double seed = 1.0);
// Same with an explicit output gradient (same shape and dtype as out): pipeline stages.
void backward(const Var& out, const Tensor& grad_out);

// Activation recomputation: out = f(inputs), run without recording; backward recomputes f with
// recording on and backpropagates through the recomputed graph. f must be deterministic. Only
// the inputs' values are kept between forward and backward (plus the output). Parameters used
// inside f (leaves captured by f) receive their gradients through the recomputation. With grad
// mode on the result always requires a gradient (even when no input does, so that parameters
// inside f are reached).
Var checkpoint(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Var>& inputs,
               const char* name = "checkpoint");

// While alive, ops record nothing (evaluation, optimizer updates). Nests.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};
bool grad_enabled();

// A trainable tensor with its checkpoint name (HF naming, e.g. "model.layers.0.mlp.up_proj.weight").
struct NamedParam {
  std::string name;
  Var var;
  bool trainable = true;  // false: frozen (no gradient recorded, optimizer skips it)
};
using ParamList = std::vector<NamedParam>;

}  // namespace janus::kernels::ag
