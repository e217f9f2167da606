"""The audit verbs take the served list's settings the same way (audits.cli_options)."""

from __future__ import annotations

import pytest

from audits.__main__ import build_parser
from audits.cli_options import parse_weights


def test_weights_read_as_rating_engagement_profit_and_bad_ones_are_refused():
    assert parse_weights("0.5,0.3,0.2") == {"rating": 0.5, "engagement": 0.3, "profit": 0.2}
    for bad in ("0.5,0.3", "a,b,c", "1,2,3,4"):
        with pytest.raises(ValueError, match="three numbers"):
            parse_weights(bad)


def test_report_and_batch_share_the_list_options():
    parser = build_parser()
    argv = ["--model", "m", "--out", "o", "--k", "7", "--objective", "blend",
            "--weights", "1,0,0", "--block-label", "drugs", "--block-genre", "Horror"]
    report = parser.parse_args(["report", *argv])
    batch = parser.parse_args(["batch", *argv])
    for args in (report, batch):
        assert (args.k, args.objective, args.block_label, args.block_genre) == \
            (7, "blend", ["drugs"], ["Horror"])
        assert parse_weights(args.weights) == {"rating": 1.0, "engagement": 0.0, "profit": 0.0}
