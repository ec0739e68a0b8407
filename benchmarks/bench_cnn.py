"""One CNN training step: functrans vs PyTorch (CPU), single-threaded.

The model: Conv2D 3x3x1x8 + relu, Conv2D 3x3x8x16 + relu, MaxPool 2x2, Flatten, Dense
2304 -> 10; softmax cross-entropy over a batch of 32 28x28x1 float32 images; one SGD step
(learning rate 0.02). Both libraries run the same step from the same weights: the forward
pass, the gradients of all parameters, the update. Both are pinned to one thread (BLAS and
OpenMP environment variables are set before NumPy or PyTorch is imported;
``torch.set_num_threads(1)``). The repeats are interleaved (functrans, torch, functrans, ...)
so drifts in machine load hit both alike, and the medians are reported, with their ratio.
The first step's losses are compared so that both sides provably compute the same thing.

    python benchmarks/bench_cnn.py                  # 30 interleaved repeats
    python benchmarks/bench_cnn.py --repeat 100 --batch 64
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import functrans as ft  # noqa: E402

LR = 0.02


def make_model(rng: np.random.Generator) -> ft.nn.Sequential:
    return ft.nn.Sequential([
        ft.nn.Conv2D((3, 3, 1, 8), activation=ft.nn.relu, rng=rng),
        ft.nn.Conv2D((3, 3, 8, 16), activation=ft.nn.relu, rng=rng),
        ft.nn.MaxPool2D((2, 2), strides=(2, 2)),
        ft.nn.Flatten(),
        ft.nn.Dense(12 * 12 * 16, 10, rng=rng),
    ])


def functrans_step(model, opt, state, x, y):
    loss, grads = ft.value_and_grad(lambda m: ft.nn.softmax_cross_entropy(m(x), y))(model)
    model, state = opt.update(model, grads, state)
    return model, state, float(loss)


def torch_setup(model, x, y):
    import torch
    torch.set_num_threads(1)
    conv1, conv2, _, _, dense = model.layers
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2, 2), torch.nn.Flatten(),
        torch.nn.Linear(12 * 12 * 16, 10))
    with torch.no_grad():
        # HWIO -> OIHW filters; NHWC flattening order -> NCHW flattening order for the dense.
        net[0].weight.copy_(torch.from_numpy(conv1.filter.transpose(3, 2, 0, 1).copy()))
        net[0].bias.copy_(torch.from_numpy(conv1.bias))
        net[2].weight.copy_(torch.from_numpy(conv2.filter.transpose(3, 2, 0, 1).copy()))
        net[2].bias.copy_(torch.from_numpy(conv2.bias))
        k = dense.kernel.reshape(12, 12, 16, 10).transpose(2, 0, 1, 3).reshape(-1, 10)
        net[6].weight.copy_(torch.from_numpy(k.T.copy()))
        net[6].bias.copy_(torch.from_numpy(dense.bias))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    model = make_model(rng)
    opt = ft.optim.SGD(learning_rate=LR)
    state = opt.init(model)

    try:
        torch_step = torch_setup(model, x, y)
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_step, torch_version = None, None

    # Warm-up, and the check that both compute the same step.
    model, state, loss_ft = functrans_step(model, opt, state, x, y)
    if torch_step is not None:
        loss_torch = torch_step()
        print(f"first-step loss: functrans {loss_ft:.6f}  torch {loss_torch:.6f}")
        assert abs(loss_ft - loss_torch) < 1e-4 * max(1.0, abs(loss_ft)), "the two steps differ"
        # A second step compares the updated weights' losses, i.e. the gradients.
        model, state, loss_ft = functrans_step(model, opt, state, x, y)
        loss_torch = torch_step()
        print(f"second-step loss: functrans {loss_ft:.6f}  torch {loss_torch:.6f}")
        assert abs(loss_ft - loss_torch) < 1e-4 * max(1.0, abs(loss_ft)), "the gradients differ"

    times_ft, times_torch = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model, state, _ = functrans_step(model, opt, state, x, y)
        times_ft.append(time.perf_counter() - t0)
        if torch_step is not None:
            t0 = time.perf_counter()
            torch_step()
            times_torch.append(time.perf_counter() - t0)

    med_ft = statistics.median(times_ft) * 1e3
    print(f"batch {args.batch} of 28x28x1, conv 3x3x1x8 + conv 3x3x8x16 + maxpool + dense, "
          f"one SGD step, 1 thread, median of {args.repeat} interleaved repeats")
    print(f"functrans: {med_ft:8.2f} ms")
    if torch_step is None:
        print("torch: not importable (pip install torch==2.13.0); no comparison")
        return
    med_torch = statistics.median(times_torch) * 1e3
    print(f"torch {torch_version}: {med_torch:8.2f} ms")
    print(f"ratio functrans / torch: {med_ft / med_torch:.2f}x")


if __name__ == "__main__":
    main()
