"""The stdout table of bench.releases: one row per release kind and link."""

from __future__ import annotations

from collections.abc import Sequence

from bench.shaping import LINK_TITLES

KIND_TITLES = {
    "code": "fab deploy, code change",
    "restart-anyway": "fab deploy --restart-anyway",
    "rollback": "fab rollback",
    "refused": "refused candidate (CMD exits 1)",
    "plain": "plain path, code change (stop/rm/run)",
}
HEADER = ("link", "release", "result", "requests", "req/s", "failed", "longest gap", "wall")


def row(result: dict) -> tuple[str, ...]:
    return (
        LINK_TITLES.get(result["link"], result["link"]),
        KIND_TITLES.get(result["kind"], result["kind"]),
        "as expected" if result["ok"] else f"UNEXPECTED ({result['detail'][:60]})",
        str(result["requests"]),
        f"{result['rate']:.0f}",
        str(result["failed"]),
        f"{result['longest_gap_seconds']:.2f} s",
        f"{result['wall_seconds']:.1f} s",
    )


def render_releases(results: Sequence[dict]) -> str:
    rows = [HEADER, *(row(r) for r in results)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    out = ["releases under fresh-connection load (goal: 0 failed, gap ~ the load's own interval)"]
    for r in rows:
        out.append(("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip())
    for result in results:
        failures = result.get("failure_kinds")
        if failures:
            what = ", ".join(failures)
            out.append(f"  ! {result['link']} {result['kind']}: failures were {what}")
        refresh = result.get("refresh")
        if refresh is not None:
            out.append(
                f"  refresh-status pressed {refresh['presses']} times during the {result['link']}"
                f" code-change deploy: {refresh['http_500s']} HTTP 500 (goal 0);"
                f" statuses {refresh['statuses']}"
            )
    return "\n".join(out)
