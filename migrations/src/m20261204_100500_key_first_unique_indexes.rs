//! The unique indexes on email and telephony identity lead with their
//! selective column: `(email_norm, namespace)` and `(agent_id,
//! platform_norm, namespace)` instead of `namespace` first.
//!
//! With `namespace` first, every lookup by `(namespace, user_id)` had two
//! indexes whose first column matched. While its statistics still described
//! a small table, PostgreSQL picked the wrong one for prepared statements
//! (and for its own foreign-key checks) and kept the plan: each lookup then
//! ranged over the whole namespace, and committed upserts fell to a few
//! hundred a second as the table grew. Now only the primary keys start with
//! `namespace`, and every lookup has exactly one index that fits it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Namespace,
    EmailNorm,
}

#[derive(DeriveIden)]
enum UserTelephony {
    Table,
    Namespace,
    PlatformNorm,
    AgentId,
}

fn email_index(columns: [Users; 2], name: &str) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Users::Table).unique();
    for c in columns {
        index.col(c);
    }
    index.to_owned()
}

fn identity_index(columns: [UserTelephony; 3], name: &str) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(UserTelephony::Table).unique();
    for c in columns {
        index.col(c);
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Create the new before dropping the old: uniqueness holds throughout.
        manager.create_index(email_index([Users::EmailNorm, Users::Namespace], "ux_users_email_norm")).await?;
        manager
            .create_index(identity_index(
                [UserTelephony::AgentId, UserTelephony::PlatformNorm, UserTelephony::Namespace],
                "ux_user_telephony_agent",
            ))
            .await?;
        manager.drop_index(Index::drop().name("ux_users_namespace_email_norm").table(Users::Table).to_owned()).await?;
        manager
            .drop_index(Index::drop().name("ux_user_telephony_identity").table(UserTelephony::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(email_index([Users::Namespace, Users::EmailNorm], "ux_users_namespace_email_norm"))
            .await?;
        manager
            .create_index(identity_index(
                [UserTelephony::Namespace, UserTelephony::PlatformNorm, UserTelephony::AgentId],
                "ux_user_telephony_identity",
            ))
            .await?;
        manager.drop_index(Index::drop().name("ux_users_email_norm").table(Users::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("ux_user_telephony_agent").table(UserTelephony::Table).to_owned()).await
    }
}
