//! Runtime events (detections) and the event feed's queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::detect::Severity;
use crate::ids::{IntegrationId, PolicyId, TenantId};

use super::Result;

pub struct NewRuntimeEvent<'a> {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub policy_id: PolicyId,
    pub policy_name: &'a str,
    pub rule_name: &'a str,
    pub severity: Severity,
    pub priority: &'a str,
    pub output: &'a str,
    pub tags: &'a [String],
    pub okta_event_uuid: &'a str,
    pub event_type: &'a str,
    pub actor: &'a str,
    pub target: &'a str,
    pub okta_domain: &'a str,
    pub published: DateTime<Utc>,
    pub normalized: &'a serde_json::Value,
    pub raw: &'a str,
}

/// Inserts detections in one statement; those that already exist (the event was processed
/// before) are skipped. Returns the rule names of the rows inserted.
pub async fn insert_many(
    conn: &mut PgConnection,
    events: &[NewRuntimeEvent<'_>],
) -> Result<Vec<String>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    macro_rules! column {
        ($field:ident) => {
            events.iter().map(|e| e.$field).collect::<Vec<_>>()
        };
    }
    let severities: Vec<&str> = events.iter().map(|e| e.severity.as_str()).collect();
    let tags: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e.tags).unwrap_or_else(|_| "[]".into()))
        .collect();
    Ok(sqlx::query_scalar!(
        "INSERT INTO runtime_events (tenant_id, integration_id, policy_id, policy_name, rule_name,
             severity, priority, output, tags, okta_event_uuid, event_type, actor, target, okta_domain,
             published, normalized, raw)
         SELECT tenant_id, integration_id, policy_id, policy_name, rule_name, severity, priority,
                output, ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), okta_event_uuid,
                event_type, actor, target, okta_domain, published, normalized, raw::jsonb
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                     $13::text[], $14::text[], $15::timestamptz[], $16::jsonb[], $17::text[])
             AS t(tenant_id, integration_id, policy_id, policy_name, rule_name, severity, priority,
                  output, tags, okta_event_uuid, event_type, actor, target, okta_domain, published,
                  normalized, raw)
         ON CONFLICT DO NOTHING
         RETURNING rule_name",
        column!(tenant_id) as _,
        column!(integration_id) as _,
        column!(policy_id) as _,
        column!(policy_name) as _,
        column!(rule_name) as _,
        severities as _,
        column!(priority) as _,
        column!(output) as _,
        tags as _,
        column!(okta_event_uuid) as _,
        column!(event_type) as _,
        column!(actor) as _,
        column!(target) as _,
        column!(okta_domain) as _,
        column!(published) as _,
        column!(normalized) as _,
        column!(raw) as _,
    )
    .fetch_all(conn)
    .await?)
}

/// A detection: a rule of a policy fired on an Okta event.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct RuntimeEvent {
    pub id: i64,
    pub integration_id: IntegrationId,
    #[schema(example = "okta")]
    pub source: String,
    pub policy_id: PolicyId,
    pub policy_name: String,
    pub rule_name: String,
    #[schema(value_type = Severity)]
    pub severity: String,
    #[schema(value_type = crate::detect::Priority)]
    pub priority: String,
    pub output: String,
    pub tags: Vec<String>,
    pub okta_event_uuid: String,
    pub event_type: String,
    pub actor: String,
    pub target: String,
    pub okta_domain: String,
    /// Okta's `published` time of the event.
    pub published: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

const SUMMARY: &str = "id, integration_id, source, policy_id, policy_name, rule_name, severity, priority, \
    output, tags, okta_event_uuid, event_type, actor, target, okta_domain, published, created_at";

#[derive(Debug, Default)]
pub struct FeedQuery {
    pub q: Option<String>,
    pub severity: Option<Severity>,
    pub source: Option<String>,
    pub policy: Option<String>,
    pub integration: Option<IntegrationId>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Keyset position: items strictly older than (published, id).
    pub after: Option<(DateTime<Utc>, i64)>,
    pub limit: i64,
}

/// Newest first by (published, id): a page boundary never moves when rows are inserted.
/// Built at run time: the filters present decide the SQL (a static query with
/// `$n IS NULL OR ...` for each filter would keep the planner from the right index).
pub async fn feed(pool: &PgPool, tenant_id: TenantId, f: &FeedQuery) -> Result<Vec<RuntimeEvent>> {
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {SUMMARY} FROM runtime_events WHERE tenant_id = "
    ));
    sql.push_bind(tenant_id);
    if let Some(q) = &f.q {
        sql.push(" AND search @@ websearch_to_tsquery('simple', ")
            .push_bind(q.clone())
            .push(")");
    }
    if let Some(severity) = &f.severity {
        sql.push(" AND severity = ").push_bind(severity.as_str());
    }
    if let Some(source) = &f.source {
        sql.push(" AND source = ").push_bind(source.clone());
    }
    if let Some(policy) = &f.policy {
        match Uuid::parse_str(policy) {
            Ok(id) => sql.push(" AND policy_id = ").push_bind(id),
            Err(_) => sql.push(" AND policy_name = ").push_bind(policy.clone()),
        };
    }
    if let Some(integration) = f.integration {
        sql.push(" AND integration_id = ").push_bind(integration);
    }
    if let Some(since) = f.since {
        sql.push(" AND published >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        sql.push(" AND published < ").push_bind(until);
    }
    if let Some((published, id)) = f.after {
        sql.push(" AND (published, id) < (")
            .push_bind(published)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    sql.push(" ORDER BY published DESC, id DESC LIMIT ")
        .push_bind(f.limit);
    Ok(sql.build_query_as().fetch_all(pool).await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct RuntimeEventDetail {
    #[sqlx(flatten)]
    pub summary: RuntimeEvent,
    pub normalized: serde_json::Value,
    pub raw: serde_json::Value,
}

/// Not `query_as!`: it shares the feed's row mapping (`FromRow`, summary flattened).
pub async fn get(
    pool: &PgPool,
    tenant_id: TenantId,
    id: i64,
) -> Result<Option<RuntimeEventDetail>> {
    let sql = format!(
        "SELECT {SUMMARY}, normalized, raw FROM runtime_events WHERE tenant_id = $1 AND id = $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(pool)
        .await?)
}
