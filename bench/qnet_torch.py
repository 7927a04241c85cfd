#!/usr/bin/python3
# qnet_torch.py: the Q network of common/qnet.c in PyTorch (CPU, one thread) — the pretraining step, timed on data prepared in memory.
"""Usage: qnet_torch.py [-n transitions] [-e epochs] [-b batch]

The same problem as bench/qnet-bench.c: n transitions of P = 10 items, a
history of up to L = 20 items (lengths uniform in 0..L), d = 32, two
convolutions of widths 2 and 3 with F = 32 filters, masked max-pool over
time, FC to H = 64, V(s) = v.s + b, A(s,a) = s W e_a + u.x_a + b, a logistic
click head; loss 1/2 (Q - r)^2 + logloss(click); Adam on the network,
SparseAdam on the embedding rows. Prints one JSON line.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

P, L, D, NF, H, C, X, N = 10, 20, 32, 32, 64, 4, 2, 10000
KERNELS = (2, 3)


class QNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(N, D, sparse=True)
        nn.init.normal_(self.emb.weight, std=0.1)
        self.convs = nn.ModuleList([nn.Conv1d(D, NF, k) for k in KERNELS])
        self.fc = nn.Linear(len(KERNELS) * NF + C + D, H)
        self.v = nn.Linear(H, 1)
        self.aW = nn.Linear(H, D, bias=False)
        self.au = nn.Linear(X, 1)
        self.cW = nn.Linear(H, D, bias=False)
        self.cu = nn.Linear(X, 1)

    def forward(self, hist, hlen, ctx, items, feats):
        mask = (torch.arange(L).unsqueeze(0) < hlen.unsqueeze(1)).float()   # B x L
        e = self.emb(hist) * mask.unsqueeze(2)                              # B x L x D
        et = e.transpose(1, 2)                                              # B x D x L
        pools = []
        for k, conv in zip(KERNELS, self.convs):
            out = conv(et)                                                  # B x F x (L-k+1)
            valid = torch.arange(L - k + 1).unsqueeze(0) <= (hlen.unsqueeze(1) - k)
            out = out.masked_fill(~valid.unsqueeze(1), float("-inf"))
            pooled = out.max(dim=2).values
            pooled = torch.where(torch.isinf(pooled), torch.zeros_like(pooled), pooled)
            pools.append(F.relu(pooled))
        mean = e.sum(1) / hlen.clamp(min=1).unsqueeze(1).float()
        s = F.relu(self.fc(torch.cat(pools + [ctx, mean], dim=1)))
        ea = self.emb(items)                                                # B x P x D
        a = (self.aW(s).unsqueeze(1) * ea).sum(2) + self.au(feats).squeeze(2)
        q = self.v(s) + a
        c = (self.cW(s).unsqueeze(1) * ea).sum(2) + self.cu(feats).squeeze(2)
        return q, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=8192)
    ap.add_argument("-e", type=int, default=3)
    ap.add_argument("-b", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(42)
    n = a.n
    hist = torch.randint(0, N, (n, L))
    hlen = torch.randint(0, L + 1, (n,))
    ctx = torch.rand(n, C) * 2 - 1
    items = torch.randint(0, N, (n, P))
    feats = torch.rand(n, P, X) * 2 - 1
    r = (torch.randint(0, 5, (n, P)) == 0).float()
    net = QNet()
    dense = [p for name, p in net.named_parameters() if not name.startswith("emb")]
    opt = torch.optim.Adam(dense, lr=0.001)
    sopt = torch.optim.SparseAdam(list(net.emb.parameters()), lr=0.001)
    total = 0.0
    t0 = time.monotonic()
    for _ in range(a.e):
        for b in range(0, n, a.b):
            sl = slice(b, min(b + a.b, n))
            q, c = net(hist[sl], hlen[sl], ctx[sl], items[sl], feats[sl])
            y = r[sl]
            loss = 0.5 * ((q - y) ** 2).mean() + F.binary_cross_entropy_with_logits(c, y)
            opt.zero_grad()
            sopt.zero_grad()
            loss.backward()
            opt.step()
            sopt.step()
            total += float(loss)
    dt = time.monotonic() - t0
    print(json.dumps({"mode": "offline", "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "transitions": n, "epochs": a.e, "batch": a.b, "seconds": round(dt, 3),
                      "transitions_per_s": round(n * a.e / dt)}))


if __name__ == "__main__":
    main()
