#!/usr/bin/python3
"""A small MNIST classifier at 16x16: a feature network for `evaluate_fid --feature_extractor`
and a judge of class-conditional samples.

Hashed Inception weights (`evaluate_fid --random_weights`) carry little image information. On
MNIST a classifier trained on MNIST itself is a feature space that does: the Frechet distance in
its penultimate features (FD_mnist_cnn) grows as samples stop looking like digits, and its
accuracy on class-conditional samples says whether a sample is the digit it was asked for.

    train OUT.pt [--data_dir DIR] [--epochs 3]
        trains on the MNIST training set, resized to 16x16 as flowlab's `data.fit: resize` does
        (bilinear, antialiased), prints the test-set accuracy, and writes OUT.pt: a TorchScript
        module mapping (N, 3, H, W) in [0, 1] to (N, 128) features, with feature_name
        "mnist_cnn" and a classify(x) method giving (N, 10) logits.
    accuracy MODEL.pt IMAGES_DIR PER_CLASS
        the accuracy of MODEL.pt on IMAGES_DIR/NNNNN.png written by
        `generate_samples --class_grid --samples_per_class PER_CLASS --save_individual`
        (class-major: the first PER_CLASS images are class 0), overall and per class, as JSON.
    real_digits OUT_DIR PER_CLASS [--data_dir DIR]
        the first PER_CLASS digits of each class of the MNIST training set, resized as for
        training, written as OUT_DIR/NNNNN.png in the same class-major order: the score real
        digits get, the floor for generated ones.
"""
import argparse
import gzip
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 16


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(data_dir, prefix):
    images = torch.from_numpy(read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz")).copy())
    labels = torch.from_numpy(read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz")).astype(np.int64))
    x = images.float().unsqueeze(1) / 255.0
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)
    return x, labels


class Classifier(torch.nn.Module):
    """(N, 3, H, W) in [0, 1] -> features (N, 128); classify -> logits (N, 10)."""
    feature_name: str
    size: int

    def __init__(self):
        super().__init__()
        self.feature_name = "mnist_cnn"
        self.size = SIZE
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.conv3 = torch.nn.Conv2d(64, 128, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(128 * 4 * 4, 128)
        self.head = torch.nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean(dim=1, keepdim=True)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        x = (x - 0.5) / 0.5
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    @torch.jit.export
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train(args):
    torch.manual_seed(0)
    x, y = load_split(args.data_dir, "train")
    net = Classifier()
    torch.jit.script(net)  # fails here, before training, if the module cannot be exported
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            loss = F.cross_entropy(net.classify(x[idx].expand(-1, 3, -1, -1)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}", flush=True)
    xt, yt = load_split(args.data_dir, "t10k")
    with torch.no_grad():
        accuracy = (net.classify(xt.expand(-1, 3, -1, -1)).argmax(1) == yt).float().mean().item()
    print(f"MNIST test accuracy at {SIZE}x{SIZE}: {accuracy:.4f}")
    torch.jit.script(net.eval()).save(args.out)
    print("wrote", args.out)


def accuracy(args):
    from PIL import Image
    net = torch.jit.load(args.model)
    names = sorted(n for n in os.listdir(args.images) if n.endswith(".png"))
    images = np.stack([np.asarray(Image.open(os.path.join(args.images, n)).convert("RGB")) for n in names])
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    labels = torch.arange(len(names)) // args.per_class
    with torch.no_grad():
        correct = (net.classify(x).argmax(1) == labels).float()
    per_class = [round(correct[labels == c].mean().item(), 4) for c in range(int(labels.max()) + 1)]
    print(json.dumps({"images": len(names), "accuracy": round(correct.mean().item(), 4), "per_class": per_class}))


def real_digits(args):
    from PIL import Image
    x, y = load_split(args.data_dir, "train")
    os.makedirs(args.out_dir, exist_ok=True)
    index = 0
    for c in range(10):
        for image in x[y == c][:args.per_class]:
            pixels = (image[0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(os.path.join(args.out_dir, f"{index:05d}.png"))
            index += 1
    print(f"wrote {index} digits to {args.out_dir}")


def test_subset(args):
    os.makedirs(args.out_dir, exist_ok=True)
    for name, header, item in (("t10k-images-idx3-ubyte.gz", 16, 28 * 28), ("t10k-labels-idx1-ubyte.gz", 8, 1)):
        with gzip.open(os.path.join(args.data_dir, name), "rb") as f:
            data = f.read()
        out = bytearray(data[:header] + data[header:header + args.n * item])
        out[4:8] = args.n.to_bytes(4, "big")  # the item count
        with gzip.open(os.path.join(args.out_dir, name), "wb") as f:
            f.write(bytes(out))
    print(f"wrote the first {args.n} test digits to {args.out_dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("out")
    t.add_argument("--data_dir", default="../shared/data/mnist")
    t.add_argument("--epochs", type=int, default=3)
    a = sub.add_parser("accuracy")
    a.add_argument("model")
    a.add_argument("images")
    a.add_argument("per_class", type=int)
    r = sub.add_parser("real_digits")
    r.add_argument("out_dir")
    r.add_argument("per_class", type=int)
    r.add_argument("--data_dir", default="../shared/data/mnist")
    s = sub.add_parser("test_subset")
    s.add_argument("out_dir")
    s.add_argument("n", type=int)
    s.add_argument("--data_dir", default="../shared/data/mnist")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    commands = {"train": train, "accuracy": accuracy, "real_digits": real_digits, "test_subset": test_subset}
    commands[args.command](args)


if __name__ == "__main__":
    main()
