//! The schema distributes by tenant (Citus, distribution column `tenant_id`): this fails when a
//! table of tenant data gets a key without `tenant_id`, or a foreign key that could cross
//! tenants. Only the small reference tables, looked up without a tenant, are exempt.

use sqlx::PgPool;

/// Replicated to every node: found by a bearer token or a hook URL, not by tenant.
const REFERENCE_TABLES: [&str; 3] = ["tenants", "api_tokens", "hook_routes"];

/// (name, kind p|u|f, its columns, referenced table, referenced columns)
type Constraint = (String, String, Vec<String>, Option<String>, Vec<String>);

#[sqlx::test(migrations = "./migrations")]
async fn every_table_of_tenant_data_distributes_by_tenant(pool: PgPool) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(tables.len() >= 10, "{tables:?}");
    let mut faults = Vec::new();
    for table in tables
        .iter()
        .filter(|t| !REFERENCE_TABLES.contains(&t.as_str()))
    {
        let has_tenant: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                            WHERE table_name = $1 AND column_name = 'tenant_id')",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .unwrap();
        if !has_tenant {
            faults.push(format!("{table}: no tenant_id column"));
            continue;
        }
        let constraints: Vec<Constraint> = sqlx::query_as(
            "SELECT con.conname::text, con.contype::text,
                        ARRAY(SELECT a.attname::text FROM unnest(con.conkey) k
                              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k),
                        ref.relname::text,
                        ARRAY(SELECT a.attname::text FROM unnest(con.confkey) k
                              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k)
                 FROM pg_constraint con
                 JOIN pg_class rel ON rel.oid = con.conrelid
                 LEFT JOIN pg_class ref ON ref.oid = con.confrelid
                 WHERE rel.relname = $1 AND con.contype IN ('p', 'u', 'f')",
        )
        .bind(table)
        .fetch_all(&pool)
        .await
        .unwrap();
        for (name, kind, columns, referenced, referenced_columns) in constraints {
            let with_tenant = columns.iter().any(|c| c == "tenant_id");
            match (kind.as_str(), referenced.as_deref()) {
                ("f", Some(reference)) if REFERENCE_TABLES.contains(&reference) => {}
                ("f", _) if with_tenant && referenced_columns.iter().any(|c| c == "tenant_id") => {}
                ("f", _) => faults.push(format!(
                    "{table}.{name}: a foreign key that may cross tenants"
                )),
                (_, _) if !with_tenant => {
                    faults.push(format!("{table}.{name}: a key without tenant_id"))
                }
                _ => {}
            }
        }
    }
    assert!(faults.is_empty(), "{faults:#?}");
}
