"""The model card's audits over every user, with the per-user work on recengine's batch workers.

Each block of users gets exactly what the in-process audits compute per user:
the served pipeline's candidates once (:func:`candidate_pool`), every
objective's lists and shown slots (:func:`objective_slots`), the exposure
figures of the served lists (:func:`per_user_exposure`) and the protocol's
accuracy figures (:func:`per_user_accuracy`), the content filter's lists and
slots with and without its policy (:func:`content_filter_parts`; the card's
rule: the configured policy, or every label blocked when it is empty), the
trade-off sweep's exact sums per ordering (:func:`tradeoff_parts`) and the
retrieval sources of the served slots (:func:`source_parts`), the last two from
the same candidate pool, so nothing is retrieved twice. The blocks are gathered
in user order and summarised on the driver by the same functions the
in-process audits end with (:func:`summarise_objectives`,
:func:`summarise_bias`, :func:`summarise_content_filter`,
:func:`summarise_tradeoff`, :func:`summarise_sources`), so on the same users
every figure equals the in-process audit's: :func:`audit_objectives`,
:func:`audit_bias`, :func:`audit_content_filter`, :func:`tradeoff_sweep` and
:func:`source_slot_shares` over every user. The sweep's means are correctly
rounded exact sums (:mod:`recengine.batch.sums`), so they are the same floats
however the users were cut into blocks.

The offline protocol (:func:`protocol_figures`) is not per user: it splits the
data in time and fits its baselines on the whole catalogue's train part. It
runs **once**, as one Ray task beside the blocks on the same shipped subject
(:class:`~recengine.batch.SideJob`; in-process after the blocks with
``--ray none``), with the model card's arguments, so its figures are the
card's (to the bit where BLAS rounds alike: a Ray worker runs it one-threaded,
and on a large catalogue a multi-threaded in-process run can round EASE's
inverse differently in the last bits); :attr:`Protocol.where` says where it
ran. It is one task no worker can share, and long on a large catalogue (EASE
inverts an items x items matrix), so ``ReportConfig.include_protocol=False``
(``--no-protocol``) leaves it out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from recengine.batch import BatchConfig, SideJob, light_subject, map_blocks, split_blocks
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
from .protocol import protocol_figures
from .sources import merge_source_parts, source_parts, summarise_sources
from .tradeoff import merge_tradeoff_parts, summarise_tradeoff, tradeoff_parts

#: the exposure frame's catalogue-wide figure (kept in ``DataFrame.attrs``)
TAIL_SHARE = "catalogue_long_tail_share"


@dataclass
class Protocol:
    """The offline protocol's figures (:func:`protocol_figures`) and where they were made."""

    figures: dict  # run_protocol's result: the pipeline and the baselines
    uncertainty: dict  # bootstrap intervals on the pipeline's Recall@k and NDCG@k
    where: str  # e.g. "ray local: one task beside the blocks (pid 123)"
    seconds: float  # wall time inside its task
    cpu_seconds: float


@dataclass
class BatchAudit:
    """The model card's audits over every user, and where they ran."""

    bias: BiasAudit
    objectives: ObjectiveAudit
    content: ContentFilterAudit
    tradeoff: pd.DataFrame  # tradeoff_sweep's table
    sources: dict  # source_slot_shares's figures
    protocol: Protocol | None  # None: left out (include_protocol=False)
    users: np.ndarray
    where: str
    peak_rss_bytes: dict[int, int]
    #: the workers' CPU time on the blocks (not the summary's, nor the protocol's)
    cpu_seconds: float
    #: wall time of the blocks and the protocol beside them, Ray's start-up included if any
    blocks_seconds: float = 0.0
    summary_seconds: float = 0.0  # wall time of the driver's summary (serial)


def every_user(subject: Subject, config: ReportConfig) -> ReportConfig:
    """The settings with the sample widened to every user (in order, as the audits sample)."""
    return replace(config, n_users=max(1, subject.data.n_users))


def content_policy(subject: Subject, config: ReportConfig):
    """The content filter's policy, as the model card picks it (every label when none is set)."""
    return block_every_label(subject.objectives) if config.policy.is_empty else config.policy


def served_order(subject: Subject, config: ReportConfig):
    """The ordering the card describes users getting (None: the served order)."""
    return (None if config.objective == SERVED
            else subject.objectives.objective(config.objective, config.weights))


def audit_block(subject: Subject, users: np.ndarray, config: ReportConfig) -> dict:
    """One block's per-user figures, computed by the in-process audits' own functions."""
    objset = subject.objectives
    policy = config.policy_or_none
    order = served_order(subject, config)
    pool = candidate_pool(subject.served, users, policy)
    lists, slots = objective_slots(objset, pool, config.objective_config())
    # the bias audit's served lists are the pool's, ranked by the card's ordering
    served_lists = lists[config.objective]
    bias_cfg = config.bias_config()
    exposure = per_user_exposure(subject, users, served_lists, bias_cfg)
    accuracy = per_user_accuracy(subject, users, config.k, order, policy)
    content = content_filter_parts(objset, users, content_policy(subject, config),
                                   config.objective_config(),
                                   pool=pool if objset.engine is subject.served else None,
                                   pool_policy=policy)
    # the card's sweep and source shares rank this same pool (run_audits does the same)
    tradeoff = tradeoff_parts(objset, pool, config.k, config.tradeoff_steps)
    sources = source_parts(subject.served, pool, config.k, order)
    return {"lists": lists, "slots": slots, "exposure": exposure, "accuracy": accuracy,
            TAIL_SHARE: exposure.attrs[TAIL_SHARE], "content": content, "tradeoff": tradeoff,
            "sources": sources}


def protocol_job(subject: Subject, config: ReportConfig) -> tuple[dict, dict]:
    """The side job: :func:`protocol_figures` with the model card's arguments."""
    return protocol_figures(subject, config.k, config.n_boot, config.seed)


@dataclass
class Summaries:
    """The gathered blocks, summarised: one figure set per audit."""

    bias: BiasAudit
    objectives: ObjectiveAudit
    content: ContentFilterAudit
    tradeoff: pd.DataFrame
    sources: dict


def gather(subject: Subject, blocks: list[dict], users: np.ndarray,
           config: ReportConfig) -> Summaries:
    """Blocks in user order -> every per-user audit, summarised as in-process."""
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
    tradeoff = summarise_tradeoff(merge_tradeoff_parts([b["tradeoff"] for b in blocks]))
    sources = summarise_sources(merge_source_parts([b["sources"] for b in blocks]))
    return Summaries(bias, objectives, content, tradeoff, sources)


def batch_audit(subject: Subject, config: ReportConfig | None = None,
                batch: BatchConfig | None = None) -> BatchAudit:
    """The model card's audits over every user of ``subject`` (the protocol once, if asked)."""
    batch = batch or BatchConfig()
    config = every_user(subject, config or ReportConfig())
    n = subject.data.n_users
    if n < 1:
        raise ValueError("the data has no users to audit")
    blocks = split_blocks(n, batch.block_size or default_block_size(n, batch.workers))
    side = SideJob(protocol_job, (config,)) if config.include_protocol else None
    start = time.perf_counter()
    run = map_blocks(audit_block, light_subject(subject), blocks, batch, (config,), side=side)
    mid = time.perf_counter()
    users = np.arange(n, dtype=np.int64)
    s = gather(subject, run.results, users, config)
    protocol = None
    if run.side is not None:
        figures, uncertainty = run.side.value
        where = ("in-process, after the blocks" if batch.in_process
                 else f"{run.where}: one task beside the blocks (pid {run.side.pid})")
        protocol = Protocol(figures, uncertainty, where, run.side.seconds,
                            run.side.cpu_seconds)
    return BatchAudit(s.bias, s.objectives, s.content, s.tradeoff, s.sources, protocol, users,
                      run.where, run.peak_rss_bytes, run.cpu_seconds, mid - start,
                      time.perf_counter() - mid)


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
                               "simulated": audit.content.simulated},
            "tradeoff": audit.tradeoff, "sources": audit.sources,
            "protocol": protocol_dict(audit.protocol)}


def protocol_dict(protocol: Protocol | None) -> dict:
    """The protocol's figures and where they ran, or that it was left out."""
    if protocol is None:
        return {"skipped": "left out (--no-protocol)"}
    return {"where": protocol.where, "seconds": protocol.seconds,
            "cpu_seconds": protocol.cpu_seconds, "figures": protocol.figures,
            "uncertainty": protocol.uncertainty}
