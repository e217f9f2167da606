"""The model card's sections: each one figure dict (the JSON) and its Markdown, from one source.

Every section builder reads the :class:`audits.card_data.AuditResults` the card
was built from and returns a :class:`Section` whose ``data`` holds the figures
and whose ``markdown`` shows the same figures with readable headers: nothing is
retyped, no raw dict or column name reaches the reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recengine.evaluation.protocol import RELEVANT_THRESHOLD, system_results
from recengine.objectives import SERVED, blend_phrase, normalise_weights
from recengine.reranker import FEATURE_WORDS
from recengine.serving import TRAINED_ON

from .card_data import AuditResults

SECTIONS = ("Intended use and users", "Data set", "Model", "Ordering rule and objective",
            "Why items are there", "Evaluation", "Objectives compared",
            "Content policy and filter", "Bias and fairness", "Ethical considerations",
            "Known limitations")

#: column and figure names as a reader reads them
WORDS = {
    "objective": "Objective", "policy": "Policy", "setting": "Setting", "source": "Source",
    "slots": "Slots", "share": "Share", "system": "System", "feature": "Parameter",
    "meaning": "What it measures", "weight": "Weight (per SD)", "importance": "Importance",
    "mean_predicted_rating": "Mean predicted rating",
    "expected_watch_minutes": "Expected watch minutes", "expected_profit": "Expected profit",
    "flagged_share": "Flagged share", "sponsored_share": "Sponsored share",
    "long_tail_share": "Long-tail share", "exposure_gini": "Exposure Gini",
    "intra_list_diversity": "Intra-list diversity", "coverage": "Catalogue coverage",
    "overlap_with_served": "Overlap with served", "flagged_slots": "Flagged slots",
    "flagged_items": "Flagged items", "users_with_flagged": "Users shown flagged items",
    "users_with_flagged_share": "Share of users shown flagged items", "measure": "Measured by",
    "without": "Without policy", "with": "With policy", "lost": "Lost",
    "lost_share": "Share lost", "w_rating": "Weight: rating", "w_engagement":
    "Weight: engagement", "w_profit": "Weight: profit", "pareto": "On the 3-way front",
    "pareto_rating_profit": "Front: rating vs profit",
    "pareto_rating_engagement": "Front: rating vs engagement", "group_column": "Grouped by",
    "metric": "Figure", "group": "Group", "value": "Value", "n_users": "Users",
    "ci_low": "95% low", "ci_high": "95% high", "too_few": "Too few users", "gap": "Gap",
    "largest": "Highest group", "smallest": "Lowest group", "p_value": "p",
    "p_holm": "p (Holm)", "distinguishable": "Distinguishable", "groups_compared":
    "Groups compared", "too_few_users": "Groups with too few users", "users": "Users",
    "rmse": "RMSE", "mae": "MAE", "k": "List length", "test_ratings": "Test ratings",
    "users_with_relevant": "Users with a relevant test item",
    "rec_popularity": "Popularity of recommended items",
    "mean_rec_popularity": "Popularity of recommended items",
    "mean_history_popularity": "Popularity of watched items",
    "popularity_lift": "Popularity lift (recommended / watched)",
    "history_long_tail_share": "Long-tail share of watched items",
    "catalogue_long_tail_share": "Long-tail share of the catalogue",
    "calibration_kl": "Genre miscalibration (KL)", "age_band": "age band",
    "catalogue_share": "Flagged share of the catalogue",
    "candidate_share": "Flagged share of retrieved candidates",
    "engagement_vs_served": "Engagement vs served (flagged share ratio)",
    "engagement_vs_catalogue": "Engagement vs catalogue (flagged share ratio)",
    "profit_vs_served": "Profit vs served (flagged share ratio)",
    "candidates_caught": "Candidates caught in retrieval",
    "shown_slots_removed": "Shown slots removed", "shown_slots_demoted": "Shown slots demoted",
    "train": "Train ratings", "test": "Test ratings", "fewest_users": "Fewest users",
    "most_users": "Most users",
    "test_ratings_unseen_items": "Test ratings of items never rated in train",
}
SOURCE_WORDS = {"similar": "similar to an item you watched",
                "cowatched": "often watched with an item you watched",
                "genre": "top of one of your genres", "region": "popular in your region",
                "overall": "popular overall"}
RETRIEVAL_WORDS = {
    "similar_per_item": "similar items per seed", "last_watched": "last watched items as seeds",
    "genre_top": "top items per genre", "n_genres": "genres per user",
    "region_top": "top items per region", "overall_top": "top items overall (no region)",
    "cowatched_per_item": "co-watched items per seed",
    "cowatch_neighbours": "co-watch table width", "top_rule": "top lists ranked by",
    "min_ratings_for_mean": "ratings needed for a mean-rating top list",
    "sources": "sources"}


@dataclass
class Section:
    title: str
    data: dict
    markdown: str


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


def word(name) -> str:
    """A figure or column name as words ("recall@10_vs_ease" -> "Recall@10 / EASE")."""
    name = str(name)
    if name in WORDS:
        return WORDS[name]
    if "@" in name:
        metric, _, rest = name.partition("@")
        k, _, vs = rest.partition("_vs_")
        out = {"recall": "Recall", "ndcg": "NDCG", "coverage": "Coverage"}.get(
            metric, metric.capitalize()) + f"@{k}"
        return out + (f" / {vs.upper()}" if vs else "")
    return name.replace("_", " ")


def cell(v, digits: int = 4) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        return "-" if not math.isfinite(float(v)) else f"{float(v):.{digits}g}"
    if v is None or v is pd.NA:
        return "-"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    return str(v).replace("|", "/")


def markdown_table(frame: pd.DataFrame, digits: int = 4, index: bool = False) -> str:
    """A GitHub-style table (no extra dependency); floats to ``digits`` significant places."""
    df = frame.reset_index() if index else frame
    if df.empty:
        return "_(none)_"
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v, digits) for v in row) + " |"
            for row in df.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def readable(frame: pd.DataFrame, simulated=(), value_columns=("metric", "measure",
                                                                "group_column")) -> str:
    """A table with words for headers (and for figure names inside ``value_columns``)."""
    df = frame.copy()
    for col in value_columns:
        if col in df.columns:
            df[col] = df[col].map(word)
    df.columns = [word(c) + (" (simulated)" if c in simulated else "") for c in df.columns]
    return markdown_table(df)


def facts(pairs) -> str:
    """"- **Label**: value" lines (numbers formatted like table cells)."""
    return "\n".join(f"- **{k}**: {v if isinstance(v, str) else cell(v)}" for k, v in pairs)


def figures_table(figures: dict, keys=None) -> str:
    """A two-column table of named figures."""
    keys = keys or list(figures)
    return markdown_table(pd.DataFrame({"Figure": [word(k) for k in keys],
                                        "Value": [figures[k] for k in keys]}))


def _pct(x) -> str:
    return "not measured" if x is None or not math.isfinite(float(x)) else f"{100 * x:.1f}%"


# ----- sections -----------------------------------------------------------------------
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
    table = pd.DataFrame({"Simulated column": [f"`{x['column']}`" for x in sim],
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
            "ranking_stage": eng.reranker is not None, "retrieval": retrieval,
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
                ("Ranking stage", "learned (logistic, on retrieval signals)"
                 if data["ranking_stage"] else "none: ordered by v_u·v_m"),
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
        imp, wts = eng.reranker.importance(), eng.reranker.explain()
        stage = [{"feature": f, "meaning": FEATURE_WORDS[f], "weight": wts[f],
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
        md += ("\n\nThe served order's ranking stage, its parameters (weights per standard "
               "deviation of each input; importance is the share of summed absolute "
               "weights):\n\n"
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


def objectives(r: AuditResults) -> Section:
    obj, sweep = r.objectives, r.tradeoff
    sim_cols = sorted({c for cols in obj.simulated.values() for c in cols})
    data = {"users": len(obj.users), "k": obj.config.k, "rules": obj.rules,
            "metrics": obj.metrics.reset_index(), "simulated": obj.simulated,
            "provenance": obj.provenance, "tradeoff": sweep}
    md = [f"Each objective orders the same candidates of {len(obj.users)} sampled users "
          f"(top {obj.config.k}); overlap is the mean Jaccard with the served list.", "",
          readable(obj.metrics.reset_index(), simulated=obj.simulated), ""]
    md += [f"- **{name}**: {rule}" for name, rule in obj.rules.items()]
    if sim_cols:
        md += ["", "Figures marked simulated rest on simulated columns ("
               + ", ".join(f"`{c}`" for c in sim_cols) + ")."]
    md += ["", "Trade-off sweep over blend weights (the served order first):", "",
           readable(sweep, simulated=obj.simulated)]
    return Section(SECTIONS[6], data, "\n".join(md))


def content_policy(r: AuditResults) -> Section:
    c, sim = r.content, r.objectives.simulated
    amp = c.amplification.to_dict()
    data = {"report_policy": r.config.policy.describe(), "compared_policy": c.policy,
            "every_label_blocked": r.every_label,
            "rules": [{"rule": x.name, "action": x.action}
                      for x in r.content_policy.all_rules()],
            "comparison": c.comparison, "cost": c.cost, "counts": c.counts,
            "amplification": amp, "simulated": c.simulated}
    intro = f"**Policy of this card**: {data['report_policy']}"
    if r.every_label:
        intro += (" The comparison below therefore blocks every content label the data "
                  f"carries instead: {c.policy}")
    else:
        intro += " The comparison below applies it."
    if c.simulated:
        intro += f" Simulated columns: {', '.join(f'`{x}`' for x in c.simulated)}."
    counts = {k: c.counts[k] for k in ("shown_slots_removed", "shown_slots_demoted",
                                       "candidates_caught")}
    md = [intro, "", f"Flagged content with no policy ({c.counts['users']} users, top "
          f"{c.counts['k']}):", "", figures_table({k: v for k, v in amp.items()
                                                 if k != "shares"}), "",
          "With and without the policy:", "", readable(c.comparison, simulated=sim), "",
          "Cost of the policy in each objective's own terms:", "", readable(c.cost), "",
          "What the policy did to the served lists (shown slots are what users would "
          "have seen; candidates caught includes those deeper in retrieval):", "",
          figures_table(counts)]
    return Section(SECTIONS[7], data, "\n".join(md))


def bias_fairness(r: AuditResults) -> Section:
    b = r.bias
    small = b.groups[b.groups["too_few"]] if len(b.groups) else b.groups
    too_few = (small.groupby(["group_column", "group"], sort=False)["n_users"]
               .agg(fewest_users="min", most_users="max").reset_index())
    data = {"summary": b.summary, "groups": b.groups, "gaps": b.gaps,
            "too_few": too_few, "notes": b.notes}
    gaps = b.gaps.drop(columns=["too_few_users"], errors="ignore")
    md = [figures_table(b.summary), "", "Per group (95% bootstrap interval over the group's "
          "users):", "", readable(b.groups), "", "Gaps between the highest and lowest group "
          "(simultaneous 95% interval; p adjusted by Holm across every column and figure):",
          "", readable(gaps), ""]
    if len(gaps) and not (gaps["groups_compared"] >= 2).any():
        md += [f"No gap could be sized: a gap needs two groups of at least "
               f"{b.config.min_group_size} users, and this sample has none.", ""]
    md += [f"Groups with fewer than {b.config.min_group_size} users (shown above, not "
           "compared; user counts vary by figure):", "", readable(too_few), ""]
    md += [f"- {n}" for n in b.notes]
    return Section(SECTIONS[8], data, "\n".join(md))


def ethics(r: AuditResults) -> Section:
    m, amp, counts = r.objectives.metrics, r.content.amplification, r.content.counts
    gaps, summary = r.bias.gaps, r.bias.summary
    sim = simulated_columns(r)
    n_dist = int(gaps["distinguishable"].sum()) if len(gaps) else 0
    items = [
        {"concern": "Ordering by engagement can amplify flagged content because it engages.",
         "mitigation": "A content policy applied after retrieval and before ranking, every "
                       "action kept with its rule.",
         "measured": f"flagged share {_pct(amp.shares['engagement'])} under engagement vs "
                     f"{_pct(amp.shares[SERVED])} served and {_pct(amp.catalogue_share)} of "
                     f"the catalogue; the compared policy removed "
                     f"{counts['shown_slots_removed']} and demoted "
                     f"{counts['shown_slots_demoted']} shown slots"},
        {"concern": "Ordering by profit favours sponsored items and the highest bidder, "
                    "whatever the viewer would like.",
         "mitigation": "The objective is an explicit, stated choice; every list says what "
                       "ordered it and which items are sponsored.",
         "measured": f"sponsored share {_pct(m.loc['profit', 'sponsored_share'])} under "
                     f"profit vs {_pct(m.loc[SERVED, 'sponsored_share'])} served; mean "
                     f"predicted rating {m.loc['profit', 'mean_predicted_rating']:.3f} vs "
                     f"{m.loc[SERVED, 'mean_predicted_rating']:.3f}"},
        {"concern": "Popularity bias: recommending what is already watched narrows what "
                    "people find.",
         "mitigation": "Measured on the served lists rather than assumed.",
         "measured": f"popularity lift {cell(summary['popularity_lift'])}; long-tail share "
                     f"{_pct(summary['long_tail_share'])} vs "
                     f"{_pct(summary['history_long_tail_share'])} of watched items"},
        {"concern": "Quality can differ between groups of users.",
         "mitigation": "Per-group figures with intervals and Holm-adjusted gaps; small groups "
                       "are listed, not compared.",
         "measured": f"{n_dist} of {len(gaps)} gaps distinguishable from zero"},
        {"concern": "Simulated data can be mistaken for evidence about the world.",
         "mitigation": "Every simulated column and every figure resting on one is labelled.",
         "measured": f"{len(sim)} simulated columns"},
    ]
    md = "\n".join(f"- **{x['concern']}** Mitigation: {x['mitigation']} Measured: "
                   f"{x['measured']}." for x in items)
    return Section(SECTIONS[9], {"items": items}, md)


STANDING_LIMITATIONS = [
    "Offline figures come from one temporal split of historical ratings; they do not "
    "measure what people would do with different recommendations (no online test).",
    "P(watch) is a logistic map of the model score fitted on who rated what; rating is "
    "used as a stand-in for watching, clicking and buying.",
    "Content labels decide what the filter can catch: an unlabelled harmful item passes, "
    "and the definitions themselves are contestable.",
    "Group figures cover only the groups the data records; the intervals resample users "
    "and ignore the model's own training noise.",
    "The audits sample users; their figures describe that sample, with the sizes shown.",
]


def limitations(r: AuditResults) -> Section:
    items = list(STANDING_LIMITATIONS)
    biz = r.subject.objectives.business
    if biz.simulated:
        items.insert(0, "Simulated business columns ("
                     + ", ".join(f"`{c}`" for c in biz.simulated) + "): "
                     "watch minutes, profit, flagged and sponsored figures describe the "
                     "mechanism, not the real world.")
    if "all" in trained_on(r):
        items.insert(0, "The model was trained on all interactions: its offline figures are "
                     "optimistic.")
    if r.subject.objectives.watch.slope <= 0:
        items.insert(0, "P(watch) does not increase with the model score on this model; the "
                     "engagement and profit objectives are unreliable.")
    if r.protocol is None:
        items.append("The offline protocol was not run for this card: no accuracy figures.")
    return Section(SECTIONS[10], {"items": items}, "\n".join(f"- {x}" for x in items))
