// Rebuild when a migration is added: `sqlx::migrate!` and `#[sqlx::test]` embed the folder.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
