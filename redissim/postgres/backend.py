"""One backend process and its plan cache: which front-end stages a query must run.

Models ``tcop/postgres.c`` (``exec_simple_query`` vs ``exec_parse_message`` /
``exec_bind_message`` / ``exec_execute_message``) and ``utils/cache/plancache.c``
(``GetCachedPlan``, ``choose_custom_plan``):

* simple protocol: parse, analyze(+rewrite) and plan on every statement;
* a prepared statement is parsed and analysed once per backend (the Parse message); every
  execution sends Bind. With ``plan_cache_mode = auto`` the first 5 executions get a custom
  plan (planned each time); the 6th builds the generic plan, and since for a primary-key lookup
  its cost is not above the average custom cost it is kept and reused without planning.
  ``force_custom_plan`` plans every time; ``force_generic_plan`` plans once.

Prepared statements live in the backend (a session), so with a connection pool in front a
statement is prepared once per pooled backend, not once per client connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CUSTOM_PLAN_TRIES = 5  # plancache.c: num_custom_plans < 5 -> custom plan


@dataclass(frozen=True)
class FrontEndSteps:
    """What one statement execution runs before the executor."""

    parse: bool
    analyze: bool
    plan: bool
    bind: bool
    plan_kind: str  # "simple" | "custom" | "generic-build" | "generic"


@dataclass
class _Stmt:
    executions: int = 0
    generic_built: bool = False


@dataclass
class Backend:
    """A backend process (one per connection, or one per pool slot)."""

    backend_id: int
    plan_cache_mode: str = "auto"
    statements: dict[str, _Stmt] = field(default_factory=dict)
    queries: int = 0

    def steps(self, stmt: str, prepared: bool) -> FrontEndSteps:
        """Stages needed for this execution of ``stmt``; updates the plan cache."""
        self.queries += 1
        if not prepared:
            return FrontEndSteps(True, True, True, False, "simple")
        st = self.statements.get(stmt)
        first = st is None
        if st is None:
            st = self.statements[stmt] = _Stmt()
        st.executions += 1
        mode = self.plan_cache_mode
        if mode == "force_custom_plan" or (
                mode == "auto" and st.executions <= CUSTOM_PLAN_TRIES):
            kind, plan = "custom", True
        elif not st.generic_built:
            st.generic_built = True
            kind, plan = "generic-build", True
        else:
            kind, plan = "generic", False
        return FrontEndSteps(first, first, plan, True, kind)
