use sea_orm::entity::prelude::*;

/// One row of `users`: a user's scalar fields, and its roles and teams
/// (JSON arrays of strings, in the order sent).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub namespace: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    pub salutation: Option<String>,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub suffix: Option<String>,
    pub job_title: String,
    pub pilot: Option<String>,
    pub status: String,
    pub work_from_home: Option<String>,
    pub organization: String,
    pub contact_center: String,
    pub site: String,
    pub coach_id: Option<String>,
    pub supervisor_name: Option<String>,
    pub supervisor_id: Option<String>,
    pub email: Option<String>,
    pub email_norm: Option<String>,
    pub activation_date: Date,
    pub deactivation_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub roles: String,
    #[sea_orm(column_type = "Text")]
    pub teams: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
