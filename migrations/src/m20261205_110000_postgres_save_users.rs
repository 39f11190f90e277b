//! PostgreSQL only: `roster_save_users(namespace, users, roles, teams,
//! telephony)`, many users of one namespace saved whole in one round trip
//! and one implicit transaction — the group commit of concurrent single
//! upserts. Each argument is a JSON array of rows of its table (as
//! `json_populate_recordset` reads them). The user rows are upserted, then
//! the lists of the users stored before are deleted — so a value a user of
//! the batch gives up is free for another — and the new list rows inserted. The unique indexes decide as for one user: a clash raises
//! `unique_violation` (23505) and nothing of the batch is written. Other
//! backends: nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = r#"
CREATE OR REPLACE FUNCTION roster_save_users(
    p_namespace text, p_users json, p_roles json, p_teams json, p_telephony json
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stored text[];
    id text;
BEGIN
    -- The users stored already: only they have lists to replace. Key by key
    -- (a lateral subquery the planner can't merge into a join): a table
    -- that grew fast still looks tiny before its first ANALYZE, and a
    -- set-wise `user_id = ANY (…)` or a join would then be planned as a scan
    -- of the namespace.
    SELECT array_agg(u.user_id) INTO stored FROM json_array_elements(p_users) AS e
    CROSS JOIN LATERAL (SELECT user_id FROM users
                        WHERE namespace = p_namespace AND user_id = e->>'user_id' OFFSET 0) AS u;

    -- The user rows first: their row locks order concurrent saves of one
    -- user, as `roster_save_user` does.
    INSERT INTO users (namespace, user_id, salutation, first_name, middle_name, last_name, suffix,
                       job_title, pilot, status, work_from_home, organization, contact_center, site,
                       coach_id, supervisor_name, supervisor_id, email, email_norm,
                       activation_date, deactivation_date, created_at, updated_at)
    SELECT namespace, user_id, salutation, first_name, middle_name, last_name, suffix,
           job_title, pilot, status, work_from_home, organization, contact_center, site,
           coach_id, supervisor_name, supervisor_id, email, email_norm,
           activation_date, deactivation_date, created_at, updated_at
    FROM json_populate_recordset(NULL::users, p_users)
    ON CONFLICT (namespace, user_id) DO UPDATE SET
        salutation = EXCLUDED.salutation, first_name = EXCLUDED.first_name,
        middle_name = EXCLUDED.middle_name, last_name = EXCLUDED.last_name, suffix = EXCLUDED.suffix,
        job_title = EXCLUDED.job_title, pilot = EXCLUDED.pilot, status = EXCLUDED.status,
        work_from_home = EXCLUDED.work_from_home, organization = EXCLUDED.organization,
        contact_center = EXCLUDED.contact_center, site = EXCLUDED.site, coach_id = EXCLUDED.coach_id,
        supervisor_name = EXCLUDED.supervisor_name, supervisor_id = EXCLUDED.supervisor_id,
        email = EXCLUDED.email, email_norm = EXCLUDED.email_norm,
        activation_date = EXCLUDED.activation_date, deactivation_date = EXCLUDED.deactivation_date,
        updated_at = EXCLUDED.updated_at;

    FOREACH id IN ARRAY coalesce(stored, '{}') LOOP
        DELETE FROM user_roles WHERE namespace = p_namespace AND user_id = id;
        DELETE FROM user_teams WHERE namespace = p_namespace AND user_id = id;
        DELETE FROM user_telephony WHERE namespace = p_namespace AND user_id = id;
    END LOOP;

    INSERT INTO user_roles (namespace, user_id, position, name)
        SELECT namespace, user_id, position, name FROM json_populate_recordset(NULL::user_roles, p_roles);
    INSERT INTO user_teams (namespace, user_id, position, name)
        SELECT namespace, user_id, position, name FROM json_populate_recordset(NULL::user_teams, p_teams);
    INSERT INTO user_telephony (namespace, user_id, position, platform, platform_norm, agent_id, extension)
        SELECT namespace, user_id, position, platform, platform_norm, agent_id, extension
        FROM json_populate_recordset(NULL::user_telephony, p_telephony);
END
$$
"#;

const DROP: &str = "DROP FUNCTION IF EXISTS roster_save_users(text, json, json, json, json)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(CREATE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(DROP).await?;
        }
        Ok(())
    }
}
