"""Training speed: the project's training against the seeds' reference loop, same run.

Target (../shared/TARGETS.md): reach the reference loop's validation loss in at
most 1/10 of its wall time. Both sides fit the same pure content two-tower
model (recengine.model, objective "rating": squared error on the dot product,
no ID embeddings, no history bag) on the same features (recengine.features,
fitted on the protocol's train split) and are scored on the same validation
rows (the temporal validation split taken from train):

* reference: the seeds' loop, Keras ``model.fit`` on in-memory numpy arrays,
  batch 32, Adam with learning rate 0.01, ``--ref-epochs`` epochs;
* ours: ``recengine.fit.train_two_tower`` with its own batch size,
  learning rate and early stopping.

Reported: each side's wall time, per-epoch validation loss (Keras's val_loss:
scaled-rating MSE plus the towers' tiny L2 term, the same definition on both
sides) and final validation MSE in rating units; the time our training took
to first reach the reference's best validation loss, and its ratio to the
reference's wall time (total, and up to its best epoch).

    python bench/train_speed.py [--data SPEC] [--ref-epochs 20]

Writes bench/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from dataclasses import replace

import keras
import numpy as np
from common import REAL, RESULTS, write_json  # bench/common.py: the project on sys.path

from recengine.config import TrainConfig
from recengine.data import load_source
from recengine.fit import train_two_tower
from recengine.model import ModelConfig, build_two_tower
from recengine.split import temporal_split, validation_split
from recengine.training import InteractionBatches, prepare_arrays

CONTENT_RATING = ModelConfig(objective="rating", use_item_ids=False, use_history=False)


def in_memory(arrays, rows, cfg: TrainConfig, scale) -> tuple[dict, np.ndarray]:
    """Every row as one numpy batch: exactly the inputs and targets our batches give."""
    whole = InteractionBatches(arrays, rows, replace(cfg, batch_size=max(len(rows), 1)),
                               shuffle=False)
    whole.scale = scale
    x, y = whole[0]
    return x, y["rating"]


class EpochClock(keras.callbacks.Callback):
    """Wall time and val_loss at every epoch end, measured from ``start``."""

    def __init__(self, start: float):
        super().__init__()
        self.start, self.epochs = start, []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append({"epoch": epoch + 1, "seconds": time.perf_counter() - self.start,
                            "val_loss": float((logs or {}).get("val_loss", np.nan))})


def reference_loop(data, train, epochs: int, seed: int) -> dict:
    """The seeds' loop: model.fit on numpy arrays, batch 32, Adam 0.01."""
    cfg = TrainConfig(model=CONTENT_RATING, seed=seed)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    _, arrays = prepare_arrays(data, train, cfg)
    split = validation_split(train, cfg.validation_fraction)
    x, y = in_memory(arrays, split.train, cfg, data.rating_scale)
    xv, yv = in_memory(arrays, split.test, cfg, data.rating_scale)
    model = build_two_tower(cfg.model, arrays.user_x.shape[1], arrays.item_x.shape[1],
                            int(arrays.rows.max()), arrays.history.shape[1], seed)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss={"rating": keras.losses.MeanSquaredError()})
    clock = EpochClock(start)
    model.fit(x, {"rating": y}, batch_size=32, epochs=epochs, validation_data=(xv, {"rating": yv}),
              callbacks=[clock], verbose=0, shuffle=True)
    seconds = time.perf_counter() - start
    pred = np.asarray(model.predict(xv, batch_size=4096, verbose=0)["rating"]).ravel()
    half = (data.rating_scale[1] - data.rating_scale[0]) / 2
    best = min(clock.epochs, key=lambda e: e["val_loss"])
    return {"wall_seconds": seconds, "epochs": clock.epochs, "best_val_loss": best["val_loss"],
            "best_epoch": best["epoch"], "seconds_to_best": best["seconds"],
            "final_val_mse_rating_units": float(np.mean((pred - yv) ** 2) * half ** 2),
            "batch_size": 32, "learning_rate": 0.01, "train_rows": int(len(split.train)),
            "val_rows": int(len(split.test))}


def our_training(data, train, seed: int, epochs: int | None) -> dict:
    # the towers' training only: no learned pipeline ranking stage (a second model)
    cfg = TrainConfig(model=CONTENT_RATING, seed=seed, ranking_stage=False)
    if epochs is not None:
        cfg.epochs = epochs
    log: list[dict] = []
    start = time.perf_counter()

    def progress(event: dict) -> None:
        if event.get("epoch_end"):
            log.append({"epoch": event["epoch"], "seconds": time.perf_counter() - start,
                        "val_loss": float(event.get("val_loss", np.nan))})

    bundle = train_two_tower(data, train, cfg, progress=progress)
    seconds = time.perf_counter() - start
    val = validation_split(train, cfg.validation_fraction).test
    pred = bundle.predict(val["u"].to_numpy(), val["i"].to_numpy())
    best = min(log, key=lambda e: e["val_loss"])
    return {"wall_seconds": seconds, "epochs": log, "best_val_loss": best["val_loss"],
            "best_epoch": best["epoch"], "seconds_to_best": best["seconds"],
            "final_val_mse_rating_units": float(np.mean((pred - val["rating"].to_numpy()) ** 2)),
            "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
            "early_stopping_patience": cfg.patience}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"movielens-latest:{REAL.resolve()}"
                        if (REAL / "ratings.csv").is_file() else "synthetic")
    parser.add_argument("--ref-epochs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=None, help="our max epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "train_speed.json"))
    args = parser.parse_args()

    data = load_source(args.data)
    # a fresh 0..n-1 index: the trainer keys per-row arrays by label (see systems._positional)
    train = temporal_split(data.interactions).train.reset_index(drop=True)
    print(f"data {data.name}: {len(train):,} train ratings", flush=True)
    ours = our_training(data, train, args.seed, args.epochs)
    print(f"ours: {ours['wall_seconds']:.1f} s, best val_loss {ours['best_val_loss']:.5f} "
          f"(epoch {ours['best_epoch']})", flush=True)
    ref = reference_loop(data, train, args.ref_epochs, args.seed)
    print(f"reference: {ref['wall_seconds']:.1f} s, best val_loss {ref['best_val_loss']:.5f} "
          f"(epoch {ref['best_epoch']})", flush=True)

    reached = [e for e in ours["epochs"] if e["val_loss"] <= ref["best_val_loss"]]
    to_reach = reached[0]["seconds"] if reached else None
    result = {
        "data": data.source, "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), shared; CPU only",
        "model": "pure content two-tower, objective rating (recengine.model)",
        "ours": ours, "reference": ref,
        "wall_time_ratio_ours_over_reference": ours["wall_seconds"] / ref["wall_seconds"],
        "ours_seconds_to_reference_best_val_loss": to_reach,
        "time_to_reach_over_reference_wall": None if to_reach is None
        else to_reach / ref["wall_seconds"],
        "time_to_reach_over_reference_time_to_best": None if to_reach is None
        else to_reach / ref["seconds_to_best"],
        "target": "time_to_reach_over_reference_wall <= 0.10",
    }
    print(f"\n{'':<10}{'wall s':>10}{'best val_loss':>15}{'val MSE (rating)':>18}")
    for name, r in (("ours", ours), ("reference", ref)):
        print(f"{name:<10}{r['wall_seconds']:>10.1f}{r['best_val_loss']:>15.5f}"
              f"{r['final_val_mse_rating_units']:>18.4f}")
    print(f"wall-time ratio ours/reference: {result['wall_time_ratio_ours_over_reference']:.3f}")
    if to_reach is None:
        print("ours never reached the reference's best val_loss (target missed)")
    else:
        print(f"ours reached the reference's best val_loss after {to_reach:.1f} s = "
              f"{result['time_to_reach_over_reference_wall']:.3f} of the reference's wall time "
              f"(target <= 0.10)")
    write_json(args.out, result)


if __name__ == "__main__":
    main()
