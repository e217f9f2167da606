"""The model card's first sections: use, data, model, ordering rule, why, evaluation.

Every section builder reads the :class:`audits.card_data.AuditResults` the card
was built from and returns a :class:`~audits.card_format.Section` whose ``data``
holds the figures and whose ``markdown`` shows the same figures with readable
headers: nothing is retyped, no raw dict or column name reaches the reader.
"""

from __future__ import annotations

import pandas as pd

from recengine.evaluation.protocol import RELEVANT_THRESHOLD, system_results
from recengine.objectives import SERVED, blend_phrase, normalise_weights
from recengine.reranker import FEATURE_WORDS
from recengine.serving import TRAINED_ON

from .card_data import AuditResults
from .card_format import (
    RETRIEVAL_WORDS,
    SECTIONS,
    SOURCE_WORDS,
    Section,
    _pct,
    cell,
    facts,
    markdown_table,
    readable,
    word,
)


def intended_use(r: AuditResults) -> Section:
    data = {
        "intended_for": "People browsing a film catalogue who want a short list of what to "
                        "watch next, each item with the reason it is there and the rule that "
                        "ordered the list.",
        "reviewed_by": "Stakeholders reviewing the service: product owners choosing the "
                       "objective, trust-and-safety staff setting the content policy, and "
                       "auditors or regulators checking that the stated criteria are the "
                       "ones applied (EU DSA Art. 27).",
        "not_for": ["decisions about people (credit, hiring, housing, insurance, policing)",
                    "inferring sensitive traits of users from what they watch",
                    "ranking news, health or money advice, where harm from a bad list is "
                    "far larger than a dull evening"],
        "scope": f"Offline figures on {r.subject.data.name}; no online test was run.",
    }
    md = facts([("Intended for", data["intended_for"]), ("Reviewed by", data["reviewed_by"]),
                ("Not for", "; ".join(data["not_for"])), ("Scope", data["scope"])])
    return Section(SECTIONS[0], data, md)


def simulated_columns(r: AuditResults) -> list[dict]:
    """Each simulated column with where it came from."""
    d, biz = r.subject.data, r.subject.objectives.business
    cols = sorted(set(d.simulated) | {f"items.{c}" for c in biz.simulated})
    out = []
    for c in cols:
        prov = d.provenance.get(c)
        if prov is None and c.startswith("items.") and c[6:] in biz.provenance:
            prov = biz.provenance[c[6:]]
        out.append({"column": c, "provenance": prov or f"simulated by the loader ({d.source})"})
    return out


def data_set(r: AuditResults) -> Section:
    d = r.subject.data
    summary = d.summary()
    sim = simulated_columns(r)
    data = {"summary": summary, "license": d.license or "not stated", "simulated": sim}
    md = facts([("Name", f"{summary['name']} (source {summary['source'] or 'not recorded'})"),
                ("License", data["license"]),
                ("Size", f"{summary['users']:,} users, {summary['items']:,} items, "
                         f"{summary['interactions']:,} ratings (density "
                         f"{summary['density']:.4f}), ratings {d.rating_scale[0]:g} to "
                         f"{d.rating_scale[1]:g}"),
                ("Demographics", ", ".join(summary["demographics"]) or "none recorded"),
                ("Notes", "; ".join(summary["notes"]) or "none")])
    table = pd.DataFrame({"Simulated column": [x["column"] for x in sim],
                          "Provenance": [x["provenance"] for x in sim]})
    return Section(SECTIONS[1], data, md + "\n\n" + markdown_table(table))


def trained_on(r: AuditResults) -> str:
    meta = r.subject.bundle.metadata
    if meta.get("trained_on"):
        return str(meta["trained_on"])
    if meta.get("train_interactions") == len(r.subject.split.train):
        return TRAINED_ON
    return "not recorded"


def model(r: AuditResults) -> Section:
    meta, eng = r.subject.bundle.metadata, r.subject.served
    mc = meta.get("config", {}).get("model", {})
    towers = {t: {"hidden": list(mc.get(t, {}).get("hidden", [])),
                  "output": mc.get(t, {}).get("output")} for t in ("user_tower", "item_tower")}
    retrieval = {k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in vars(eng.config.retrieval).items()}
    data = {"kind": meta.get("kind", type(eng.scorer).__name__), "towers": towers,
            "training_objective": mc.get("objective"), "trained_on": trained_on(r),
            "train_interactions": meta.get("train_interactions"),
            "epochs_run": meta.get("epochs_run"), "best_epoch": meta.get("metrics", {})
            .get("best_epoch"), "train_seconds": meta.get("train_seconds"),
            "vector_dim": int(eng.item_vectors.shape[1]),
            "ranking_stage": eng.reranker is not None,
            "ranking_stage_kind": eng.reranker.name if eng.reranker is not None else None,
            "retrieval": retrieval,
            "p_watch": r.subject.objectives.watch.describe()}
    where = {TRAINED_ON: "the protocol's train split"}.get(data["trained_on"],
                                                           data["trained_on"])
    tower = "; ".join(f"{t.split('_')[0]} tower layers "
                      f"{', '.join(str(h) for h in v['hidden']) or 'none'} -> {v['output']}"
                      for t, v in towers.items())
    kind = str(data["kind"]).replace("_", "-")
    md = facts([("Kind", f"{kind} (users and items meet in a {data['vector_dim']}-dimensional "
                         "space; the match score is v_u·v_m)"),
                ("Towers", tower), ("Training objective", str(data["training_objective"])),
                ("Trained on", where + (f" ({data['train_interactions']:,} ratings)"
                                        if data["train_interactions"] else "")),
                ("Epochs run", data["epochs_run"]), ("Best epoch", data["best_epoch"]),
                ("Ranking stage", f"learned ({data['ranking_stage_kind']}, on retrieval "
                 "signals)" if data["ranking_stage"] else "none: ordered by v_u·v_m"),
                ("Engagement and profit calibration", data["p_watch"])])
    md += "\n\nRetrieval settings:\n\n" + "\n".join(
        f"- {RETRIEVAL_WORDS.get(k, word(k))}: "
        f"{', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in retrieval.items())
    return Section(SECTIONS[2], data, md)


def ordering(r: AuditResults) -> Section:
    served = r.subject.served.served_objective
    w = normalise_weights(r.config.weights)
    data = {"served_rule": served.rule, "served_score": served.score_meaning,
            "active_objective": r.active.name, "active_rule": r.active.rule,
            "active_score": r.active.score_meaning, "blend_weights": w,
            "blend_in_words": blend_phrase(w), "example_statement": r.example}
    active = ("the served order itself" if r.active.name == SERVED
              else f"{r.active.name}: {r.active.rule}")
    md = facts([("Served ordering rule", served.rule), ("Score shown", served.score_meaning),
                ("Ordering this card describes", active),
                ("Its score", r.active.score_meaning),
                ("Blend weights", f"{data['blend_in_words']} (each figure min-max scaled over "
                                  "a request's candidates)"),
                ("What the first sampled user is told", r.example or "no list")])
    return Section(SECTIONS[3], data, md)


def why_items(r: AuditResults) -> Section:
    eng, s = r.subject.served, r.sources
    stage = None
    if eng.reranker is not None:
        imp, weight = eng.reranker.importance(), eng.reranker.weight
        stage = [{"feature": f, "meaning": FEATURE_WORDS[f],
                  "weight": None if weight(f) is None else round(weight(f), 4),
                  "importance": imp[f]} for f in sorted(imp, key=lambda f: -imp[f])]
    data = {**s, "ranking_stage": stage}
    table = pd.DataFrame(s["sources"], columns=["source", "slots", "share"])
    table.insert(1, "meaning", table["source"].map(lambda x: SOURCE_WORDS.get(x, x)))
    md = (f"Over the top {s['k']} of {s['users']} sampled users ({s['slots']:,} shown slots, "
          f"ordered by {'the served order' if r.active.name == SERVED else r.active.name}"
          "): the share of slots with at least one hit from each "
          "retrieval source (an item found by several counts for each; "
          f"{_pct(s['several_sources_share'])} were found by more than one).\n\n"
          + readable(table.rename(columns={"meaning": "What it means"})))
    if stage is None:
        md += "\n\nNo ranking stage: the served order is the two-tower score v_u·v_m."
    else:
        how = ("weights per standard deviation of each input; importance is the share of "
               "summed absolute weights" if eng.reranker.name == "logistic" else
               "trees have no per-input weight; importance is the share of the trees' "
               "total split gain")
        md += (f"\n\nThe served order's ranking stage ({eng.reranker.name}), its parameters "
               f"({how}):\n\n"
               + readable(pd.DataFrame(stage)[["meaning", "weight", "importance"]]))
    return Section(SECTIONS[4], data, md)


def evaluation(r: AuditResults) -> Section:
    k = r.config.k
    if r.protocol is None:
        return Section(SECTIONS[5], {"skipped": True, "trained_on": trained_on(r)},
                       "_The offline protocol was not run for this card._")
    systems, split, unc = system_results(r.protocol), r.protocol["split"], r.uncertainty
    pipe = systems["pipeline"]
    headline = {f"recall@{k}": unc[f"recall@{k}"], f"ndcg@{k}": unc[f"ndcg@{k}"],
                "rmse": pipe.get("rmse"), "mae": pipe.get("mae"),
                "users": pipe.get("users"), "test_ratings": split["test"]}
    data = {"split": split, "k": k, "systems": systems, "headline": headline,
            "uncertainty": unc, "trained_on": trained_on(r)}
    lines = [f"- **Pipeline {word(m)}**: {cell(unc[m]['value'])} (95% interval "
             f"{cell(unc[m]['ci_low'])} to {cell(unc[m]['ci_high'])}; bootstrap over "
             f"{unc['users']:,} users with a relevant test item, {unc['n_boot']} resamples)"
             for m in (f"recall@{k}", f"ndcg@{k}")]
    lines.append(f"- **Pipeline RMSE**: {cell(headline['rmse'])} (MAE {cell(headline['mae'])}) "
                 f"over {split['test']:,} test ratings, predictions clipped to the scale")
    note = (f"Temporal split ({split['train']:,} train / {split['test']:,} test ratings); "
            f"relevant = test rating >= {RELEVANT_THRESHOLD:g}; the pipeline reads train "
            "history only; baselines fitted in the same run on the same split.")
    if "all" in data["trained_on"]:
        note += (" **Warning**: the model was trained on all interactions, so its figures "
                 "include test ratings it has seen and are optimistic.")
    frame = pd.DataFrame.from_dict(systems, orient="index")
    frame.index.name = "system"
    return Section(SECTIONS[5], data, "\n".join(lines) + "\n\n" + note + "\n\n"
                   + readable(frame.reset_index()))
