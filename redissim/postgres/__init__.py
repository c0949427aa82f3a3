"""The simulated PostgreSQL 15 pipeline (issue 7): backends on cores, parse/plan/execute,
shared buffers with clock-sweep, the OS page cache, the storage device, WAL with group commit.

Public API::

    from redissim.postgres import PostgresServer, PostgresConfig, QueryResult, load_profile
"""

from redissim.postgres.btree import TableGeometry, btree_depth
from redissim.postgres.buffers import SharedBuffers
from redissim.postgres.config import PostgresConfig, TableConfig
from redissim.postgres.pipeline import STAGES, PostgresServer, QueryResult, TooManyConnections
from redissim.postgres.profile import CostProfile, load_profile

__all__ = [
    "STAGES", "CostProfile", "PostgresConfig", "PostgresServer", "QueryResult",
    "SharedBuffers", "TableConfig", "TableGeometry", "TooManyConnections", "btree_depth",
    "load_profile",
]
