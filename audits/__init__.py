"""The audits: what the ranking objective, the content policy and the model do to people.

The course's ethics section says the objective is a choice, engagement can
amplify harm, profit can reward the most exploitative advertiser, and users
deserve to know the criteria. Each module here turns one of those claims into
measurements on the running pipeline (:class:`recengine.engine.Engine`):

* :mod:`audits.business`: the business attributes (price, margin, bids, watch
  minutes, labels), read from the data or simulated by a documented rule;
* :mod:`audits.objectives`: rating vs engagement vs profit vs a blend;
* :mod:`audits.content_filter`: the content policy, with and without;
* :mod:`audits.bias`: popularity bias, calibration, diversity, group gaps;
* :mod:`audits.transparency`: what an end user is told;
* :mod:`audits.report`: a model-card-style report (Markdown and JSON).

UI-free: the pages in ``pages/`` only show what these functions return.
"""

from .business import BusinessAttributes, business_attributes
from .objectives import (
    OBJECTIVES,
    ObjectiveAudit,
    ObjectiveAuditConfig,
    ObjectiveModel,
    audit_objectives,
    build_objectives,
    compare_user,
    objective_model,
    tradeoff_sweep,
)

__all__ = [
    "OBJECTIVES", "BusinessAttributes", "ObjectiveAudit", "ObjectiveAuditConfig",
    "ObjectiveModel", "audit_objectives", "build_objectives", "business_attributes",
    "compare_user", "objective_model", "tradeoff_sweep",
]
