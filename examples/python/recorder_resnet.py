"""LayerMem, ΔLayerMem and UnitMem of a small ResNet through memloc.torch.Recorder.

Two encoders f and g see a fake data set of random images, each as V augmented views. As in
the paper, f has been trained on these samples and g has not; here "trained" is a couple of
epochs of pulling f's view embeddings together and g is left at its random initialisation, so
the numbers show the plumbing, not a finding. The recorder hooks a few measurement
points and folds every batch into memloc's accumulators; nothing is kept per batch.

    PYTHONPATH=build/python python examples/python/recorder_resnet.py [--quick]
"""

import argparse
import time

import numpy as np
import torch
from torch import nn

import memloc
from memloc.torch import Recorder


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))
        # A ReLU module of its own: the recorder hooks modules that run once per forward, and a
        # block reusing one ReLU for both activations would fire its hook twice.
        self.out = nn.ReLU()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return self.out(self.bn2(self.conv2(y)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """ResNet-10-ish for 16x16 inputs: a stem, three stages of one BasicBlock, a projection head."""

    def __init__(self, width: int = 16, embedding: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = BasicBlock(width, width, 1)
        self.layer2 = BasicBlock(width, 2 * width, 2)
        self.layer3 = BasicBlock(2 * width, 4 * width, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(4 * width, embedding)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.head(torch.flatten(self.pool(x), 1))


def augment(images: torch.Tensor, views: int, generator: torch.Generator, size: int) -> torch.Tensor:
    """[B, 3, H, W] -> [B*V, 3, size, size]: random crops of the padded image and random flips,
    the V views of a sample adjacent (the batch layout the recorder expects)."""
    batch, _, height, width = images.shape
    padded = nn.functional.pad(images, (2, 2, 2, 2), mode="reflect")
    out = []
    for b in range(batch):
        for _ in range(views):
            top = int(torch.randint(0, height + 4 - size + 1, (1,), generator=generator))
            left = int(torch.randint(0, width + 4 - size + 1, (1,), generator=generator))
            view = padded[b, :, top:top + size, left:left + size]
            if bool(torch.rand(1, generator=generator) < 0.5):
                view = torch.flip(view, dims=(2,))
            out.append(view)
    return torch.stack(out)


def fit_views(model: nn.Module, data: torch.Tensor, views: int, epochs: int, batch_size: int, size: int,
              generator: torch.Generator) -> None:
    """A few steps of view alignment on ``data``, so f has seen the samples g never saw (a
    stand-in for SSL training: it pulls the embeddings of a sample's views together)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(epochs):
        for first in range(0, len(data), batch_size):
            z = nn.functional.normalize(model(augment(data[first:first + batch_size], views, generator, size)), dim=1)
            z = z.reshape(-1, views, z.shape[1])
            loss = (z - z.mean(dim=1, keepdim=True)).pow(2).sum(dim=2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()  # BatchNorm must not mix the samples of a measured batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (CTest)")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=None, help="view-alignment epochs of f on the samples")
    args = parser.parse_args()
    samples = args.samples or (48 if args.quick else 256)
    views, batch_size, size = args.views, 16, 16
    torch.set_num_threads(min(2, torch.get_num_threads()))
    started = time.perf_counter()

    torch.manual_seed(0)
    f = SmallResNet()
    torch.manual_seed(1)
    g = SmallResNet().eval()
    data = torch.rand(samples, 3, size, size, generator=torch.Generator().manual_seed(2))
    generator = torch.Generator().manual_seed(3)
    fit_views(f, data, views, args.epochs if args.epochs is not None else 2, batch_size, size, generator)

    points = ["stem", "layer1", "layer2", "layer3", "head"]
    # cosine ignores the activations' scale, which training changed in f but not in g.
    with Recorder(f, g, layers=points, samples=samples, views=views, distance="cosine") as rec:
        for first in range(0, samples, batch_size):
            ids = np.arange(first, min(first + batch_size, samples))
            rec.step(augment(data[ids], views, generator, size), ids=ids)
        layers = rec.layermem()
        units = rec.unitmem()

    print(f"{samples} samples x {views} views, {len(points)} measurement points")
    print(f"{'point':<8} {'LayerMem':>10} {'ΔLayerMem':>10} {'mean UnitMem':>13}")
    mean_unitmem = {}
    for name, value, delta in zip(layers.names, layers.layermem, layers.delta):
        u = units[name].unitmem
        mean_unitmem[name] = float(np.nanmean(u)) if np.isfinite(u).any() else float("nan")
        print(f"{name:<8} {value:>10.4f} {delta:>10.4f} {mean_unitmem[name]:>13.4f}")
    top = memloc.select_layers(mean_unitmem, 1).names[0]
    best = units[top]
    unit = int(np.nanargmax(best.unitmem))
    print(f"top UnitMem layer: {top} (mean {mean_unitmem[top]:.4f}); its most memorizing unit {unit} "
          f"(UnitMem {best.unitmem[unit]:.4f}) peaks on sample {int(best.argmax[unit])}")
    print(f"done in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
