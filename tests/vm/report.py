"""pytest plugin used inside the guest: every test's outcome and output, as
JSON in the shared directory."""
import json

_results = {}


def pytest_addoption(parser):
    parser.addoption("--vnet-report", help="write test results as JSON here")


def pytest_runtest_logreport(report):
    r = _results.setdefault(report.nodeid, {"outcome": "passed", "longrepr": "", "sections": [], "duration": 0.0})
    r["duration"] += report.duration
    if report.failed:
        r["outcome"] = "failed"
        r["longrepr"] += f"[{report.when}] " + str(report.longreprtext) + "\n"
    elif report.skipped and r["outcome"] == "passed":
        r["outcome"] = "skipped"
        r["longrepr"] += str(report.longreprtext)
    r["sections"] = [[k, v] for k, v in report.sections]


def pytest_sessionfinish(session):
    path = session.config.getoption("--vnet-report")
    if path:
        with open(path, "w") as f:
            json.dump(_results, f)
