//! `schema.graphql` is the exported schema, byte for byte.

#[test]
fn schema_graphql_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap();
    let exported = crust_api::graphql::export_sdl();
    assert!(
        committed == exported,
        "schema.graphql is out of date: run `cargo run -p crust-cli -- export-schema --out schema.graphql`"
    );
}
