"""A model-card-style report: data, model, evaluation, objective, policy, audits, limits.

One builder produces both the Markdown a person reads and the JSON a program
reads, from the same figures the audit functions return (nothing is retyped),
so the app's download, the terminal command and the tests agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recengine.engine import Engine
from recengine.evaluation import System, run_protocol, system_results
from recengine.policy import ContentPolicy

from .bias import BiasAudit, BiasAuditConfig, audit_bias, predicted_ratings
from .content_filter import ContentFilterAudit, audit_content_filter
from .objectives import (
    DEFAULT_WEIGHTS,
    ObjectiveAudit,
    ObjectiveAuditConfig,
    ObjectiveModel,
    audit_objectives,
    normalise_weights,
    objective_model,
)
from .transparency import objective_phrase

SECTIONS = ("Data set", "Model", "Evaluation", "Objective weights", "Content policy",
            "Audit results", "Known limitations")

STANDING_LIMITATIONS = [
    "Offline figures come from one temporal split of historical ratings; they do not "
    "measure what people would do with different recommendations (no online test).",
    "P(watch) is a logistic map of the model score fitted on who rated what; rating is "
    "used as a stand-in for watching, clicking and buying.",
    "Content labels decide what the filter can catch: an unlabelled harmful item passes, "
    "and the definitions themselves are contestable.",
    "Group gaps are reported only for the groups the data records (gender, age band, "
    "region); groups below the minimum size are left out, and the intervals are "
    "bootstrap percentiles that ignore the model's own training noise.",
]


@dataclass
class ReportConfig:
    """What the report covers; defaults keep it to seconds on the demo data."""

    n_users: int = 200
    k: int = 10
    seed: int = 0
    objective: str = "rating"  # the active objective users get
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    policy: ContentPolicy = field(default_factory=ContentPolicy)
    include_protocol: bool = True
    n_boot: int = 500

    def objective_config(self) -> ObjectiveAuditConfig:
        return ObjectiveAuditConfig(n_users=self.n_users, k=self.k, seed=self.seed,
                                    weights=dict(self.weights))

    def bias_config(self) -> BiasAuditConfig:
        return BiasAuditConfig(n_users=self.n_users, k=self.k, seed=self.seed,
                               n_boot=self.n_boot)


@dataclass
class AuditResults:
    """Every audit the report shows, computed once."""

    model: ObjectiveModel
    objectives: ObjectiveAudit
    content: ContentFilterAudit
    bias: BiasAudit
    protocol: dict | None


@dataclass
class Section:
    title: str
    data: dict
    markdown: str


@dataclass
class ModelCard:
    title: str
    sections: list[Section]

    def to_dict(self) -> dict:
        return {"title": self.title,
                "sections": {s.title: jsonable(s.data) for s in self.sections}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_markdown(self) -> str:
        parts = [f"# {self.title}", ""]
        for s in self.sections:
            parts += [f"## {s.title}", "", s.markdown.strip(), ""]
        return "\n".join(parts)


# ----- helpers ------------------------------------------------------------------------
def jsonable(obj):
    """Plain JSON types: numpy scalars unwrapped, NaN and inf as null, frames as records."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return jsonable(obj.to_dict("records"))
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, int | str):
        return obj
    if obj is pd.NA:
        return None
    return str(obj)


def markdown_table(frame: pd.DataFrame, digits: int = 4, index: bool = False) -> str:
    """A GitHub-style table (no extra dependency); floats to ``digits`` significant places."""
    df = frame.reset_index() if index else frame
    if df.empty:
        return "_(none)_"

    def cell(v) -> str:
        if isinstance(v, float | np.floating):
            return "-" if not math.isfinite(float(v)) else f"{float(v):.{digits}g}"
        return str(v).replace("|", "/")

    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |"
            for row in df.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def model_systems(engine: Engine) -> dict:
    """The engine's model (whole catalogue) and its pipeline as protocol systems.

    The model is already trained: the fit callables ignore the train data they
    are handed except to rebuild retrieval on train history, so retrieval never
    reads a test rating. Whether the model itself saw test ratings is in its
    metadata ("trained_on") and reported beside the figures.
    """
    def fit_model(train: pd.DataFrame, train_data) -> System:
        def score(users):
            users = np.asarray(users, np.int64)
            vecs = np.stack([np.asarray(engine.scorer.user_vector(int(u)), np.float32)
                             for u in users])
            return vecs @ engine.item_vectors.T

        return System("model", score_fn=score,
                      predict_fn=lambda u, i: predicted_ratings(engine, u, i))

    def fit_pipeline(train: pd.DataFrame, train_data) -> System:
        eng = Engine.build(engine.data, engine.scorer, history=train,
                           similar_table=engine.similar_table, config=engine.config)
        return System("pipeline", topk_fn=lambda users, k: eng.recommend_topk_batch(users, k))

    return {"model": fit_model, "pipeline": fit_pipeline}


def run_audits(engine: Engine, config: ReportConfig | None = None,
               model: ObjectiveModel | None = None) -> AuditResults:
    """Every audit with the report's settings (the same calls the pages make)."""
    cfg = config or ReportConfig()
    model = model or objective_model(engine, cfg.seed)
    ocfg = cfg.objective_config()
    objectives = audit_objectives(model, ocfg)
    content = audit_content_filter(model, cfg.policy, ocfg)
    active = model.objective(cfg.objective, cfg.weights) if cfg.objective != "rating" else None
    bias = audit_bias(engine, cfg.bias_config(), objective=active, policy=cfg.policy)
    protocol = (run_protocol(engine.data, model_systems(engine), k=cfg.k)
                if cfg.include_protocol else None)
    return AuditResults(model, objectives, content, bias, protocol)


# ----- sections -----------------------------------------------------------------------
def _data_section(engine: Engine, model: ObjectiveModel) -> Section:
    summary = engine.data.summary()
    data = {"summary": summary, "license": engine.data.license or "not stated",
            "business_attributes": dict(model.business.provenance),
            "simulated_columns": sorted(set(summary["simulated"])
                                        | {f"items.{c}" for c in model.business.simulated})}
    lines = [f"- **Name**: {summary['name']} (source `{summary['source'] or 'n/a'}`)",
             f"- **License**: {data['license']}",
             f"- **Size**: {summary['users']:,} users, {summary['items']:,} items, "
             f"{summary['interactions']:,} ratings (density {summary['density']:.4f})",
             f"- **Demographics**: {', '.join(summary['demographics']) or 'none'}",
             "- **Business attributes**:"]
    lines += [f"  - `{c}`: {p}" for c, p in model.business.provenance.items()]
    lines.append("- **Simulated columns**: " + (", ".join(data["simulated_columns"]) or "none"))
    return Section("Data set", data, "\n".join(lines))


def _model_section(engine: Engine, model: ObjectiveModel) -> Section:
    meta = dict(getattr(engine.scorer, "metadata", {}) or {})
    cfg = meta.get("config", {})
    data = {"kind": meta.get("kind", type(engine.scorer).__name__),
            "trained_on": meta.get("trained_on", "not recorded"),
            "model_config": cfg.get("model", cfg), "epochs_run": meta.get("epochs_run"),
            "train_seconds": meta.get("train_seconds"), "training_metrics": meta.get("metrics"),
            "item_vector_dim": int(engine.item_vectors.shape[1]),
            "retrieval": vars(engine.config.retrieval).copy(),
            "p_watch_calibration": {"slope": model.watch.slope,
                                    "intercept": model.watch.intercept,
                                    "description": model.watch.describe()}}
    mc = data["model_config"] if isinstance(data["model_config"], dict) else {}
    lines = [f"- **Kind**: {data['kind']}", f"- **Trained on**: {data['trained_on']}",
             f"- **Objective (training)**: {mc.get('objective', 'n/a')}",
             f"- **Towers**: user {mc.get('user_tower', {}).get('hidden', 'n/a')}, "
             f"item {mc.get('item_tower', {}).get('hidden', 'n/a')}, "
             f"output dimension {data['item_vector_dim']}",
             f"- **Epochs run**: {data['epochs_run']}",
             f"- **Retrieval**: {data['retrieval']}",
             f"- **Engagement/profit calibration**: {model.watch.describe()}"]
    return Section("Model", data, "\n".join(lines))


def _evaluation_section(protocol: dict | None, trained_on: str) -> Section:
    if protocol is None:
        return Section("Evaluation", {"skipped": True},
                       "_Not run for this report (include_protocol=False)._")
    systems = system_results(protocol)
    frame = pd.DataFrame.from_dict(systems, orient="index")
    frame.index.name = "system"
    data = {"split": protocol["split"], "k": protocol["k"], "systems": systems,
            "trained_on": trained_on}
    note = ("Protocol: ../shared/EVALUATION.md (temporal split, relevant = test rating >= 4). "
            "Baselines fitted in the same run on the same split.")
    if "all" in str(trained_on):
        note += (" **Warning**: the model was trained on all interactions, so its figures "
                 "include test ratings it has seen and are optimistic.")
    return Section("Evaluation", data, note + "\n\n" + markdown_table(frame, index=True))


def _weights_section(cfg: ReportConfig) -> Section:
    w = normalise_weights(cfg.weights)
    data = {"active_objective": cfg.objective, "blend_weights": w,
            "statement": objective_phrase(cfg.objective, w)}
    lines = [f"- **Active objective**: {cfg.objective} ({data['statement']})",
             "- **Blend weights** (each objective min-max normalised over the candidates): "
             + ", ".join(f"{k} {v:.2f}" for k, v in w.items())]
    return Section("Objective weights", data, "\n".join(lines))


def _policy_section(policy: ContentPolicy) -> Section:
    rules = [{"rule": r.name, "action": r.action} for r in policy.all_rules()]
    data = {"description": policy.describe(), "rules": rules}
    body = policy.describe()
    if rules:
        body += "\n\n" + markdown_table(pd.DataFrame(rules))
    return Section("Content policy", data, body)


def _audit_section(results: AuditResults) -> Section:
    obj, content, bias = results.objectives, results.content, results.bias
    amp = content.amplification.to_dict()
    data = {
        "objectives": {"metrics": obj.metrics.reset_index().to_dict("records"),
                       "overlap": obj.overlap.reset_index().rename(
                           columns={"index": "objective"}).to_dict("records"),
                       "simulated": obj.simulated, "users": len(obj.users), "k": obj.config.k},
        "content_filter": {"comparison": content.comparison, "cost": content.cost,
                           "amplification": amp, "actions": int(len(content.actions)),
                           "simulated": content.simulated},
        "bias": {"summary": bias.summary, "gaps": bias.gaps, "notes": bias.notes},
    }
    sim = ", ".join(sorted({c for cols in obj.simulated.values() for c in cols}))
    md = [f"### Objectives ({len(obj.users)} users, top {obj.config.k})", "",
          markdown_table(obj.metrics, index=True), ""]
    if sim:
        md += [f"_Figures resting on simulated columns ({sim}) are simulated: "
               + ", ".join(obj.simulated) + "._", ""]
    md += ["Mean list overlap (Jaccard):", "", markdown_table(obj.overlap.reset_index()
                                                              .rename(columns={"index": ""})),
           "", "### Content filter", "",
           f"Flagged share of the catalogue {amp['catalogue_share']:.3f}; shown under rating "
           f"{amp['shares']['rating']:.3f}, engagement {amp['shares']['engagement']:.3f} "
           f"(x{amp['engagement_vs_rating']:.2f} vs rating, "
           f"x{amp['engagement_vs_catalogue']:.2f} vs the catalogue)"
           + (" (labels simulated)" if "labels" in content.simulated else "") + ".", "",
           markdown_table(content.comparison), "", "Cost of the policy in each objective's "
           "own terms:", "", markdown_table(content.cost), "",
           f"{len(content.actions)} policy actions over the sampled users.", "",
           "### Bias and fairness", "",
           markdown_table(pd.DataFrame([bias.summary])), "", "Gaps between groups "
           "(largest minus smallest; 95% bootstrap interval):", "",
           markdown_table(bias.gaps), ""]
    md += [f"- {n}" for n in bias.notes]
    return Section("Audit results", data, "\n".join(md))


def _limitations_section(results: AuditResults, trained_on: str) -> Section:
    items = list(STANDING_LIMITATIONS)
    sim = results.model.business.simulated
    if sim:
        items.insert(0, "Simulated business columns: " + ", ".join(sim) + "; figures built on "
                     "them (watch minutes, profit, flagged and sponsored shares) describe the "
                     "mechanism, not the real world.")
    if "all" in str(trained_on):
        items.insert(0, "The model was trained on all interactions: its offline figures are "
                     "optimistic.")
    if results.model.watch.slope <= 0:
        items.insert(0, "P(watch) does not increase with the model score on this model; the "
                     "engagement and profit objectives are unreliable.")
    return Section("Known limitations", {"items": items}, "\n".join(f"- {x}" for x in items))


def build_report(engine: Engine, config: ReportConfig | None = None,
                 results: AuditResults | None = None) -> ModelCard:
    """The model card for ``engine`` (running every audit unless ``results`` are given)."""
    cfg = config or ReportConfig()
    results = results or run_audits(engine, cfg)
    meta = dict(getattr(engine.scorer, "metadata", {}) or {})
    trained_on = str(meta.get("trained_on", "not recorded"))
    sections = [_data_section(engine, results.model), _model_section(engine, results.model),
                _evaluation_section(results.protocol, trained_on), _weights_section(cfg),
                _policy_section(cfg.policy), _audit_section(results),
                _limitations_section(results, trained_on)]
    return ModelCard(f"Model card: {engine.data.name}", sections)


__all__ = ["SECTIONS", "AuditResults", "ModelCard", "ReportConfig", "build_report",
           "jsonable", "markdown_table", "model_systems", "run_audits"]
