//! PostgreSQL only: `roster_save_user(…)`, a user's whole save — its row
//! (inserted or updated), its roles, teams and telephony configurations
//! (replaced) — as one function, so the service writes a user in one round
//! trip and one implicit transaction instead of nine statements. The unique
//! indexes still decide: a clash raises `unique_violation` (23505) as the
//! plain statements would. Lists arrive as JSON arrays: `roles` and `teams`
//! of strings, `telephony` of `[platform, platform_norm, agent_id,
//! extension]`; positions are their indexes. Other backends: nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CREATE: &str = r#"
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
    INSERT INTO users (namespace, user_id, salutation, first_name, middle_name, last_name, suffix,
                       job_title, pilot, status, work_from_home, organization, contact_center, site,
                       coach_id, supervisor_name, supervisor_id, email, email_norm,
                       activation_date, deactivation_date, created_at, updated_at)
    VALUES (p_namespace, p_user_id, p_salutation, p_first_name, p_middle_name, p_last_name, p_suffix,
            p_job_title, p_pilot, p_status, p_work_from_home, p_organization, p_contact_center, p_site,
            p_coach_id, p_supervisor_name, p_supervisor_id, p_email, p_email_norm,
            p_activation_date, p_deactivation_date, p_at, p_at)
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

    DELETE FROM user_roles WHERE namespace = p_namespace AND user_id = p_user_id;
    INSERT INTO user_roles (namespace, user_id, position, name)
        SELECT p_namespace, p_user_id, (e.o - 1)::int, e.v
        FROM jsonb_array_elements_text(p_roles::jsonb) WITH ORDINALITY AS e(v, o);

    DELETE FROM user_teams WHERE namespace = p_namespace AND user_id = p_user_id;
    INSERT INTO user_teams (namespace, user_id, position, name)
        SELECT p_namespace, p_user_id, (e.o - 1)::int, e.v
        FROM jsonb_array_elements_text(p_teams::jsonb) WITH ORDINALITY AS e(v, o);

    DELETE FROM user_telephony WHERE namespace = p_namespace AND user_id = p_user_id;
    INSERT INTO user_telephony (namespace, user_id, position, platform, platform_norm, agent_id, extension)
        SELECT p_namespace, p_user_id, (e.o - 1)::int, e.v->>0, e.v->>1, e.v->>2, e.v->>3
        FROM jsonb_array_elements(p_telephony::jsonb) WITH ORDINALITY AS e(v, o);
END
$$
"#;

const DROP: &str = "DROP FUNCTION IF EXISTS roster_save_user(text, text, text, text, text, text, text, text, \
                    text, text, text, text, text, text, text, text, text, text, text, date, date, timestamptz, \
                    text, text, text)";

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
