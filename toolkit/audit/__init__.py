"""The audit: fairness by mechanism, stability of reasons and drift through stress, each
checked against the synthetic world's truth where there is one.

    from toolkit.audit import audit_table
    result = audit_table(fitted.scorer, table, fitted.decisions, cfg)
    result.metrics            # audit_fairness_*, audit_stability_*, audit_drift_*
    result.write("audit")     # tables, figures, metrics.json, report.html

Modules: ``fairness`` (rates by group and mechanism, the gap explained by the drivers and
not, reasons at equal PD, the truth check), ``stability`` (retrains and consecutive months),
``drift`` (PSI and reasons by month, flagged months against the stressed ones), ``figures``,
``result`` (tables, the report section, the folder) and ``api`` (:func:`audit_table`).
"""

from toolkit.audit.api import audit_table
from toolkit.audit.fairness import RULE, FairnessResult, fairness_audit
from toolkit.audit.result import AuditResult

__all__ = ["RULE", "AuditResult", "FairnessResult", "audit_table", "fairness_audit"]
