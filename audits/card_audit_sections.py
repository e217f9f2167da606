"""The model card's audit sections: objectives, content filter, bias, ethics, limitations.

Same contract as :mod:`audits.card_sections`: figures once, in JSON and in words.
"""

from __future__ import annotations

from recengine.objectives import SERVED
from recengine.safe_text import markdown_text

from .card_data import AuditResults
from .card_format import (
    SECTIONS,
    Section,
    _pct,
    cell,
    figures_table,
    readable,
)
from .card_sections import simulated_columns, trained_on


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


def feedback_loops(r: AuditResults) -> Section:
    """What the objective does over rounds, simulated on planted truth (or why not)."""
    sim = r.simulation
    if sim is None:
        data = {"run": False}
        md = ("_Not run for this card: add `--simulate-rounds T` to `python -m audits report` "
              "(synthetic data only: the simulation needs planted truth), or open the "
              "Feedback loops page._")
    elif "skipped" in sim:
        data = {"run": False, "reason": sim["skipped"]}
        md = "_Not run: " + markdown_text(sim["skipped"]) + "_"
    else:
        data = {"run": True, **sim}
        md = "\n".join([f"Every figure here is **simulated** ({sim['rounds']} rounds, "
                        f"{sim['seeds']} seeds, {sim['users']} users, objective "
                        f"{markdown_text(sim['objective'])}; the mitigated run filters "
                        "flagged content).", "",
                        "What the system learned each round: "
                        + markdown_text("; ".join(sim["learned"])) + ".", ""]
                       + [f"- {markdown_text(line)}" for line in sim["summary"]])
    return Section(SECTIONS[11], data, md)
