"""The audits: what the served recommender does to people, against its alternatives.

The course's ethics section says the objective is a choice, engagement can
amplify harm, profit can reward the most exploitative advertiser, and users
deserve to know the criteria. Each module here turns one of those claims into
measurements on the system being audited (:class:`recengine.subject.Subject`:
the served pipeline and its train-only twin), always describing the list the
user is served and comparing alternatives against it:

* :mod:`audits.objectives`: the served order vs predicted rating, engagement,
  profit and blends (:mod:`audits.compare` for one user, :mod:`audits.tradeoff`
  for the blend sweep);
* :mod:`audits.content_filter`: the content policy, with and without;
* :mod:`audits.bias`: popularity bias, calibration, diversity, group gaps
  (:mod:`audits.group_gaps` for the intervals);
* :mod:`audits.sources`: which retrieval sources fill the shown slots;
* :mod:`audits.protocol`: the offline protocol with bootstrap intervals;
* :mod:`audits.transparency`: what an end user is told;
* :mod:`audits.report`: the model card (Markdown and JSON);
* :mod:`audits.batch_audit`: the card's audits over every user, on Ray workers.

UI-free: the pages in ``pages/`` only show what these functions return.
"""

from .objectives import ObjectiveAudit, ObjectiveAuditConfig, audit_objectives

__all__ = ["ObjectiveAudit", "ObjectiveAuditConfig", "audit_objectives"]
