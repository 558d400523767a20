#!/usr/bin/env python3
"""The PyTorch peer (../shared/peers/torch_vae.py) on a GPU, for issue #5's speed ratio.

It imports the peer's own data generator and model (same architecture, likelihood formulas,
optimiser and loop: one `elbo.item()` per step, as in the peer) and only moves them to the
device; the peer itself runs on the CPU and takes no device argument. The whole data set is on
the GPU, like scvae's DeviceCsr. Epoch times are taken after torch.cuda.synchronize().
Usage: torch_peer_gpu.py --peer PATH [--cells 16200] [--dist NB] [--epochs 3] [--batch 100]
"""
import argparse, hashlib, importlib.util, time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peer", required=True)
    p.add_argument("--cells", type=int, default=16200); p.add_argument("--genes", type=int, default=27998)
    p.add_argument("--dist", default="NB"); p.add_argument("--hidden", type=int, default=250)
    p.add_argument("--latent", type=int, default=25); p.add_argument("--batch", type=int, default=100)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--device", default="cuda", help="cuda; cpu only to check this script without a GPU")
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("SKIPPED: no CUDA device")
        return
    spec = importlib.util.spec_from_file_location("torch_vae", a.peer)
    peer = importlib.util.module_from_spec(spec); spec.loader.exec_module(peer)
    sha = hashlib.sha256(open(a.peer, "rb").read()).hexdigest()[:16]
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"
    print(f"peer {a.peer} sha256 {sha}; torch {torch.__version__}; {name}; "
          f"tf32 matmul {torch.backends.cuda.matmul.allow_tf32}", flush=True)
    torch.manual_seed(0)
    X = peer.synthetic(a.cells, a.genes).to(dev)
    print(f"data {a.cells} x {a.genes}, {100.0 * (X == 0).float().mean().item():.2f}% zeros", flush=True)
    m = peer.VAE(a.genes, a.hidden, a.latent, a.dist).to(dev)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4, weight_decay=5e-2)
    times = []
    for ep in range(a.epochs + 1):  # epoch 0 warms up (kernels, allocator)
        sync(); t = time.perf_counter(); tot = 0.0
        perm = torch.randperm(a.cells, device=dev)
        for i in range(0, a.cells, a.batch):
            xb = X[perm[i:i + a.batch]]
            opt.zero_grad(); elbo = m(xb); (-elbo).backward(); opt.step(); tot += elbo.item() * xb.shape[0]
        sync(); dt = time.perf_counter() - t
        if ep > 0:
            times.append(dt)
        print(f"epoch {ep}{' (warm-up)' if ep == 0 else ''} elbo {tot / a.cells:.1f} seconds {dt:.3f} "
              f"cells_per_s {a.cells / dt:.0f}", flush=True)
    print(f"RESULT torch_gpu dist={a.dist} cells={a.cells} epoch_s_mean={sum(times) / len(times):.3f} "
          f"epoch_s_min={min(times):.3f}", flush=True)


if __name__ == "__main__":
    main()
