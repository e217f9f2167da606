"""The audits over every user, with the per-user work on recengine's batch workers.

Each block of users gets exactly what the in-process audits compute per user:
the served pipeline's candidates once (:func:`candidate_pool`), every
objective's lists and shown slots (:func:`objective_slots`), the exposure
figures of the served lists (:func:`per_user_exposure`) and the protocol's
accuracy figures (:func:`per_user_accuracy`), and the content filter's lists
and slots with and without its policy (:func:`content_filter_parts`; the card's
rule: the configured policy, or every label blocked when it is empty). The
blocks are gathered in user order and summarised on the driver by the same
functions :func:`audit_objectives`, :func:`audit_bias` and
:func:`audit_content_filter` end with (:func:`summarise_objectives`,
:func:`summarise_bias`, :func:`summarise_content_filter`), so on the same users
every figure equals the in-process audit's. What is not here yet: the trade-off
sweep, the source shares and the offline protocol (its baselines fit on the
whole catalogue, not per user).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from recengine.batch import BatchConfig, light_subject, map_blocks, split_blocks
from recengine.batch.blocks import default_block_size
from recengine.objectives import OBJECTIVES, SERVED
from recengine.subject import Subject

from .bias import BiasAudit, per_user_accuracy, per_user_exposure, summarise_bias
from .card_data import ReportConfig
from .content_filter import (
    ContentFilterAudit,
    block_every_label,
    content_filter_parts,
    merge_content_parts,
    summarise_content_filter,
)
from .objectives import ObjectiveAudit, candidate_pool, objective_slots, summarise_objectives

#: the exposure frame's catalogue-wide figure (kept in ``DataFrame.attrs``)
TAIL_SHARE = "catalogue_long_tail_share"


@dataclass
class BatchAudit:
    """The bias, objectives and content-filter audits over every user, and where they ran."""

    bias: BiasAudit
    objectives: ObjectiveAudit
    content: ContentFilterAudit
    users: np.ndarray
    where: str
    peak_rss_bytes: dict[int, int]
    cpu_seconds: float  # the workers' CPU time on the blocks (not the summary's)
    blocks_seconds: float = 0.0  # wall time of the blocks, Ray's start-up included if any
    summary_seconds: float = 0.0  # wall time of the driver's summary (serial)


def every_user(subject: Subject, config: ReportConfig) -> ReportConfig:
    """The settings with the sample widened to every user (in order, as the audits sample)."""
    return replace(config, n_users=max(1, subject.data.n_users))


def content_policy(subject: Subject, config: ReportConfig):
    """The content filter's policy, as the model card picks it (every label when none is set)."""
    return block_every_label(subject.objectives) if config.policy.is_empty else config.policy


def audit_block(subject: Subject, users: np.ndarray, config: ReportConfig) -> dict:
    """One block's per-user figures, computed by the in-process audits' own functions."""
    objset = subject.objectives
    policy = config.policy_or_none
    served_order = (None if config.objective == SERVED
                    else objset.objective(config.objective, config.weights))
    pool = candidate_pool(subject.served, users, policy)
    lists, slots = objective_slots(objset, pool, config.objective_config())
    # the bias audit's served lists are the pool's, ranked by the card's ordering
    served_lists = lists[config.objective]
    bias_cfg = config.bias_config()
    exposure = per_user_exposure(subject, users, served_lists, bias_cfg)
    accuracy = per_user_accuracy(subject, users, config.k, served_order, policy)
    content = content_filter_parts(objset, users, content_policy(subject, config),
                                   config.objective_config(),
                                   pool=pool if objset.engine is subject.served else None,
                                   pool_policy=policy)
    return {"lists": lists, "slots": slots, "exposure": exposure, "accuracy": accuracy,
            TAIL_SHARE: exposure.attrs[TAIL_SHARE], "content": content}


def gather(subject: Subject, blocks: list[dict], users: np.ndarray,
           config: ReportConfig) -> tuple[BiasAudit, ObjectiveAudit, ContentFilterAudit]:
    """Blocks in user order -> the three audits, summarised as in-process."""
    lists = {name: [lst for b in blocks for lst in b["lists"][name]] for name in OBJECTIVES}
    slots = {name: pd.concat([b["slots"][name] for b in blocks], ignore_index=True)
             for name in OBJECTIVES}
    exposure = pd.concat([b["exposure"] for b in blocks], ignore_index=True)
    exposure.attrs[TAIL_SHARE] = blocks[0][TAIL_SHARE]
    accuracy = pd.concat([b["accuracy"] for b in blocks], ignore_index=True)
    bias = summarise_bias(subject, users, lists[config.objective], exposure, accuracy,
                          config.bias_config())
    objectives = summarise_objectives(subject.objectives, users, lists, slots,
                                      config.objective_config())
    content = summarise_content_filter(subject.objectives, users, content_policy(subject, config),
                                       merge_content_parts([b["content"] for b in blocks]),
                                       config.objective_config())
    return bias, objectives, content


def batch_audit(subject: Subject, config: ReportConfig | None = None,
                batch: BatchConfig | None = None) -> BatchAudit:
    """The bias, objectives and content-filter audits over every user of ``subject``."""
    batch = batch or BatchConfig()
    config = every_user(subject, config or ReportConfig())
    n = subject.data.n_users
    if n < 1:
        raise ValueError("the data has no users to audit")
    blocks = split_blocks(n, batch.block_size or default_block_size(n, batch.workers))
    start = time.perf_counter()
    run = map_blocks(audit_block, light_subject(subject), blocks, batch, (config,))
    mid = time.perf_counter()
    users = np.arange(n, dtype=np.int64)
    bias, objectives, content = gather(subject, run.results, users, config)
    return BatchAudit(bias, objectives, content, users, run.where, run.peak_rss_bytes,
                      run.cpu_seconds, mid - start, time.perf_counter() - mid)


def to_dict(audit: BatchAudit) -> dict:
    """The figures as plain data (the JSON the verb writes)."""
    return {"users": int(len(audit.users)), "where": audit.where,
            "cpu_seconds": audit.cpu_seconds, "blocks_seconds": audit.blocks_seconds,
            "summary_seconds": audit.summary_seconds,
            "peak_rss_bytes": {str(k): v for k, v in audit.peak_rss_bytes.items()},
            "bias": {"summary": audit.bias.summary, "groups": audit.bias.groups,
                     "gaps": audit.bias.gaps, "notes": audit.bias.notes},
            "objectives": {"metrics": audit.objectives.metrics.reset_index(),
                           "overlap": audit.objectives.overlap.reset_index(),
                           "rules": audit.objectives.rules,
                           "simulated": audit.objectives.simulated},
            "content_filter": {"policy": audit.content.policy,
                               "comparison": audit.content.comparison,
                               "cost": audit.content.cost, "counts": audit.content.counts,
                               "amplification": audit.content.amplification.to_dict(),
                               "simulated": audit.content.simulated}}
