//! Forward-only migrations, embedded at compile time (style.md §8). `lanyard migrate` and
//! start-up apply the same set.

/// One schema step. `version` orders them; a released one is never edited.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../schema/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "policy_decisions",
        sql: include_str!("../../../schema/sqlite/0002_policy_decisions.sql"),
    },
    Migration {
        version: 3,
        name: "decision_log_append",
        sql: include_str!("../../../schema/sqlite/0003_decision_log_append.sql"),
    },
    Migration {
        version: 4,
        name: "decision_log_moves_out",
        sql: include_str!("../../../schema/sqlite/0004_decision_log_moves_out.sql"),
    },
];

/// The decision log's own database, `decisions.db`.
pub const SQLITE_DECISIONS: &[Migration] = &[Migration {
    version: 1,
    name: "batches",
    sql: include_str!("../../../schema/sqlite/decisions/0001_batches.sql"),
}];

/// The production store's durable half (Postgres).
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../schema/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "rotate_refresh",
        sql: include_str!("../../../schema/postgres/0002_rotate_refresh.sql"),
    },
    Migration {
        version: 3,
        name: "policy_versions",
        sql: include_str!("../../../schema/postgres/0003_policy_versions.sql"),
    },
];
