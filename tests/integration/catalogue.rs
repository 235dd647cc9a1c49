//! Every finding id of every check is exercised by that check's table test
//! (`tests/integration/<check>.rs` names it as a quoted string).

#[test]
fn every_finding_id_has_a_table_case() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    for check in probes::checks::ALL {
        let path = dir.join(format!("{}.rs", check.id));
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} has no table test at {}", check.id, path.display()));
        for f in check.findings {
            assert!(
                source.contains(&format!("\"{}\"", f.id)),
                "{}: finding {} has no case in {}",
                check.id,
                f.id,
                path.display()
            );
        }
    }
}
