//! A user's roles and teams move into its `users` row: columns `roles` and
//! `teams`, each a JSON array of strings in the order sent (`[]` when
//! empty). The tables `user_roles` and `user_teams` are copied there and
//! dropped. Nothing else needs those lists as rows: no index or lookup reads
//! them, and a user is always read and written whole. Telephony
//! configurations stay rows of `user_telephony`, for the unique index on
//! their identities.
//!
//! A save of a typical user writes 1 row and 2 telephony rows instead of 8
//! rows, each with its own index entries and foreign-key check.
//!
//! On PostgreSQL the save functions are replaced to match:
//! `roster_save_user` keeps its signature (`p_roles` and `p_teams` are
//! stored as they come), and `roster_save_users(namespace, ids, users,
//! telephony)` replaces the five-argument one.
//!
//! `down` recreates the two tables from the columns, then drops them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    /// JSON array of the role names, in the order sent.
    Roles,
    /// JSON array of the team names, in the order sent.
    Teams,
}

/// The lists, as JSON text, `[]` for the users stored before with none: on
/// MySQL/MariaDB `LONGTEXT` (`TEXT` holds 64 KiB; 100 items of 255 four-byte
/// characters take more), whose default must be an expression there
/// (`('[]')`: MySQL refuses a literal default on a text column).
fn json_list(backend: DatabaseBackend, column: Users) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    match backend {
        DatabaseBackend::MySql => def.custom(Alias::new("longtext")).default(Expr::cust("('[]')")),
        _ => def.text().default("[]"),
    };
    def.not_null().take()
}

/// Fills `column` of every user that has rows in `table`, in position order.
fn copy_in(backend: DatabaseBackend, table: &str, column: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!(
            "UPDATE users u SET {column} = l.names FROM \
             (SELECT namespace, user_id, json_agg(name ORDER BY position)::text AS names FROM {table} \
              GROUP BY namespace, user_id) l \
             WHERE u.namespace = l.namespace AND u.user_id = l.user_id"
        ),
        // `GROUP_CONCAT … ORDER BY` of quoted items: MySQL's `JSON_ARRAYAGG`
        // takes no `ORDER BY` (MariaDB's does). The session's
        // `group_concat_max_len` is raised first ([`MYSQL_LONG_CONCAT`]).
        DatabaseBackend::MySql => format!(
            "UPDATE users u JOIN \
             (SELECT namespace, user_id, \
              CONCAT('[', GROUP_CONCAT(JSON_QUOTE(name) ORDER BY position SEPARATOR ','), ']') AS names \
              FROM {table} GROUP BY namespace, user_id) l \
             ON u.namespace = l.namespace AND u.user_id = l.user_id SET u.{column} = l.names"
        ),
        _ => format!(
            "UPDATE users SET {column} = l.names FROM \
             (SELECT namespace, user_id, json_group_array(name ORDER BY position) AS names FROM {table} \
              GROUP BY namespace, user_id) AS l \
             WHERE users.namespace = l.namespace AND users.user_id = l.user_id"
        ),
    }
}

/// MySQL/MariaDB cut `GROUP_CONCAT` at `group_concat_max_len` with only a
/// warning (1 MiB by default; a list takes at most about 130 KB, unless
/// a server is set lower): 16 MiB for the copy's session.
const MYSQL_LONG_CONCAT: &str = "SET SESSION group_concat_max_len = 16777216";

/// `down`: the rows of `table` from `column` (on MariaDB 10.6 or later and
/// MySQL 8, for `JSON_TABLE`).
fn copy_out(backend: DatabaseBackend, table: &str, column: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!(
            "INSERT INTO {table} (namespace, user_id, position, name) \
             SELECT u.namespace, u.user_id, (e.o - 1)::int, e.v \
             FROM users u CROSS JOIN LATERAL json_array_elements_text(u.{column}::json) WITH ORDINALITY AS e(v, o)"
        ),
        DatabaseBackend::MySql => format!(
            "INSERT INTO {table} (namespace, user_id, position, name) \
             SELECT u.namespace, u.user_id, j.o - 1, j.v FROM users u, \
             JSON_TABLE(u.{column}, '$[*]' COLUMNS (o FOR ORDINALITY, \
                 v VARCHAR(255) CHARACTER SET utf8mb4 PATH '$')) AS j"
        ),
        _ => format!(
            "INSERT INTO {table} (namespace, user_id, position, name) \
             SELECT u.namespace, u.user_id, CAST(j.key AS INTEGER), j.value FROM users u, json_each(u.{column}) AS j"
        ),
    }
}

/// The head of both functions' `INSERT INTO users`: every column.
macro_rules! insert_into_users {
    () => {
        "    INSERT INTO users (namespace, user_id, salutation, first_name, middle_name, last_name, suffix,
                       job_title, pilot, status, work_from_home, organization, contact_center, site,
                       coach_id, supervisor_name, supervisor_id, email, email_norm,
                       activation_date, deactivation_date, created_at, updated_at, roles, teams)
"
    };
}

/// The tail of both functions' `INSERT INTO users`: an upsert on the key
/// updating every column but the key and `created_at`.
macro_rules! on_conflict_update {
    () => {
        "    ON CONFLICT (namespace, user_id) DO UPDATE SET
        salutation = EXCLUDED.salutation, first_name = EXCLUDED.first_name,
        middle_name = EXCLUDED.middle_name, last_name = EXCLUDED.last_name, suffix = EXCLUDED.suffix,
        job_title = EXCLUDED.job_title, pilot = EXCLUDED.pilot, status = EXCLUDED.status,
        work_from_home = EXCLUDED.work_from_home, organization = EXCLUDED.organization,
        contact_center = EXCLUDED.contact_center, site = EXCLUDED.site, coach_id = EXCLUDED.coach_id,
        supervisor_name = EXCLUDED.supervisor_name, supervisor_id = EXCLUDED.supervisor_id,
        email = EXCLUDED.email, email_norm = EXCLUDED.email_norm,
        activation_date = EXCLUDED.activation_date, deactivation_date = EXCLUDED.deactivation_date,
        updated_at = EXCLUDED.updated_at, roles = EXCLUDED.roles, teams = EXCLUDED.teams;
"
    };
}

/// PostgreSQL: `roster_save_user` (same signature as in
/// `m20261204_100400_postgres_save_user`) writing the lists into the row.
const SAVE_USER: &str = concat!(
    r#"
CREATE OR REPLACE FUNCTION roster_save_user(
    p_namespace text, p_user_id text,
    p_salutation text, p_first_name text, p_middle_name text, p_last_name text, p_suffix text,
    p_job_title text, p_pilot text, p_status text, p_work_from_home text,
    p_organization text, p_contact_center text, p_site text,
    p_coach_id text, p_supervisor_name text, p_supervisor_id text,
    p_email text, p_email_norm text, p_activation_date date, p_deactivation_date date,
    p_at timestamptz, p_roles text, p_teams text, p_telephony text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
"#,
    insert_into_users!(),
    r#"    VALUES (p_namespace, p_user_id, p_salutation, p_first_name, p_middle_name, p_last_name, p_suffix,
            p_job_title, p_pilot, p_status, p_work_from_home, p_organization, p_contact_center, p_site,
            p_coach_id, p_supervisor_name, p_supervisor_id, p_email, p_email_norm,
            p_activation_date, p_deactivation_date, p_at, p_at, p_roles, p_teams)
"#,
    on_conflict_update!(),
    r#"
    DELETE FROM user_telephony WHERE namespace = p_namespace AND user_id = p_user_id;
    INSERT INTO user_telephony (namespace, user_id, position, platform, platform_norm, agent_id, extension)
        SELECT p_namespace, p_user_id, (e.o - 1)::int, e.v->>0, e.v->>1, e.v->>2, e.v->>3
        FROM jsonb_array_elements(p_telephony::jsonb) WITH ORDINALITY AS e(v, o);
END
$$
"#
);

/// PostgreSQL: `roster_save_users(namespace, ids, users, telephony)`, as
/// the five-argument one of `m20261205_110000_postgres_save_users` with the
/// lists in the user rows, and the users' ids apart (`p_ids`, a JSON array
/// of strings): finding the users stored before parses that short array,
/// not the users' rows a second and third time.
const SAVE_USERS: &str = concat!(
    r#"
CREATE OR REPLACE FUNCTION roster_save_users(p_namespace text, p_ids json, p_users json, p_telephony json)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stored text[];
    id text;
BEGIN
    -- The users stored already: only they have telephony rows to replace.
    -- Key by key (a lateral subquery the planner can't merge into a join):
    -- a table that grew fast still looks tiny before its first ANALYZE, and
    -- a set-wise `user_id = ANY (…)` or a join would then be planned as a
    -- scan of the namespace.
    SELECT array_agg(u.user_id) INTO stored FROM json_array_elements_text(p_ids) AS k(v)
    CROSS JOIN LATERAL (SELECT user_id FROM users
                        WHERE namespace = p_namespace AND user_id = k.v OFFSET 0) AS u;

    -- The user rows first: their row locks order concurrent saves of one
    -- user, as `roster_save_user` does.
"#,
    insert_into_users!(),
    r#"    SELECT namespace, user_id, salutation, first_name, middle_name, last_name, suffix,
           job_title, pilot, status, work_from_home, organization, contact_center, site,
           coach_id, supervisor_name, supervisor_id, email, email_norm,
           activation_date, deactivation_date, created_at, updated_at, roles, teams
    FROM json_populate_recordset(NULL::users, p_users)
"#,
    on_conflict_update!(),
    r#"
    FOREACH id IN ARRAY coalesce(stored, '{}') LOOP
        DELETE FROM user_telephony WHERE namespace = p_namespace AND user_id = id;
    END LOOP;

    INSERT INTO user_telephony (namespace, user_id, position, platform, platform_norm, agent_id, extension)
        SELECT namespace, user_id, position, platform, platform_norm, agent_id, extension
        FROM json_populate_recordset(NULL::user_telephony, p_telephony);
END
$$
"#
);

const DROP_SAVE_USERS: &str = "DROP FUNCTION IF EXISTS roster_save_users(text, json, json, json)";
const DROP_OLD_SAVE_USERS: &str = "DROP FUNCTION IF EXISTS roster_save_users(text, json, json, json, json)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        // One column an ALTER: SQLite takes no more.
        for column in [Users::Roles, Users::Teams] {
            manager
                .alter_table(Table::alter().table(Users::Table).add_column(json_list(backend, column)).to_owned())
                .await?;
        }
        if backend == DatabaseBackend::MySql {
            db.execute_unprepared(MYSQL_LONG_CONCAT).await?;
        }
        db.execute_unprepared(&copy_in(backend, "user_roles", "roles")).await?;
        db.execute_unprepared(&copy_in(backend, "user_teams", "teams")).await?;
        if backend == DatabaseBackend::Postgres {
            db.execute_unprepared(DROP_OLD_SAVE_USERS).await?;
            db.execute_unprepared(SAVE_USERS).await?;
            db.execute_unprepared(SAVE_USER).await?;
        }
        manager.drop_table(Table::drop().table(Alias::new("user_roles")).to_owned()).await?;
        manager.drop_table(Table::drop().table(Alias::new("user_teams")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        crate::m20261204_100100_create_user_roles::Migration.up(manager).await?;
        crate::m20261204_100200_create_user_teams::Migration.up(manager).await?;
        db.execute_unprepared(&copy_out(backend, "user_roles", "roles")).await?;
        db.execute_unprepared(&copy_out(backend, "user_teams", "teams")).await?;
        if backend == DatabaseBackend::Postgres {
            db.execute_unprepared(DROP_SAVE_USERS).await?;
            // The earlier functions, as their migrations create them.
            crate::m20261204_100400_postgres_save_user::Migration.up(manager).await?;
            crate::m20261205_110000_postgres_save_users::Migration.up(manager).await?;
        }
        for column in [Users::Roles, Users::Teams] {
            manager.alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
