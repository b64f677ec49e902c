"""Measure the uploads whose analysis (loudness, ingest renditions) did not run after their
upload: the process stopped first, or was too busy and left them to this job. Each row is
claimed with a lease, so instances sharing a PostgreSQL catalogue do not measure it twice.

Counts: `analysed`; `given_up` (over the processing limits or undecodable: marked
`analysis: failed`, never taken again); `failed` (anything else, e.g. the store is down: the
row is taken again after the lease)."""

from __future__ import annotations

import logging

from ..catalog.job_queries import JobCatalog
from ..runtime import Runtime
from ..service.analysis import ANALYSIS_LEASE
from .job_metrics import ANALYSED

log = logging.getLogger(__name__)

_BATCH = 16  # each row is a full decode: a run measures a few, the next run goes on


async def analyse_due(rt: Runtime) -> dict[str, int]:
    analysis = rt.analysis
    now = rt.clock()
    rows = await JobCatalog(rt.catalog).claim_analysis_due(
        now=now, lease_until=now + ANALYSIS_LEASE, limit=_BATCH
    )
    analysed = given_up = failed = 0
    for row in rows:
        try:
            measured = await analysis.analyse_stored(row)
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the others
            # The lease runs out and a later run tries again (reconcile reports a lost blob).
            log.warning("analysis of %s failed, retried after the lease: %s", row.id, exc)
            failed += 1
            continue
        if measured:
            analysed += 1
        else:
            given_up += 1
    ANALYSED.inc(analysed)
    return {"analysed": analysed, "given_up": given_up, "failed": failed}
