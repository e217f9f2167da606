"""The offline evaluation protocol (../shared/EVALUATION.md) and its baselines.

Every quality figure the project reports comes from here, so that figures from
different runs, data sets and models can be set side by side.
"""

from .baselines import (
    BiasModel,
    binary_matrix,
    ease_weights,
    fit_bias,
    fit_ease,
    fit_itemknn,
    fit_popularity,
)
from .cold_start import auc_with_ties, evaluate_cold_items, random_recall
from .metrics import (
    coverage_at_k,
    mae,
    ndcg_at_k,
    ndcg_at_k_per_user,
    recall_at_k,
    recall_at_k_per_user,
    rmse,
    topk_from_scores,
)
from .protocol import (
    System,
    SystemFit,
    baseline_fits,
    evaluate_ratings,
    evaluate_system,
    evaluate_topk,
    evaluate_topk_lists,
    format_report,
    relevant_by_user,
    run_protocol,
    split_summary,
    system_results,
)

__all__ = [
    "BiasModel", "System", "SystemFit", "auc_with_ties", "baseline_fits", "binary_matrix",
    "coverage_at_k", "ease_weights", "evaluate_cold_items", "evaluate_ratings",
    "evaluate_system", "evaluate_topk", "evaluate_topk_lists", "fit_bias", "fit_ease",
    "fit_itemknn", "fit_popularity", "format_report", "mae", "ndcg_at_k", "ndcg_at_k_per_user",
    "random_recall", "recall_at_k", "recall_at_k_per_user", "relevant_by_user", "rmse",
    "run_protocol", "split_summary", "system_results", "topk_from_scores",
]
