//! `include`: services and equipment from more files, read in sorted
//! order; ids unique across files; errors at the included file's line.

use super::*;

const MAIN: &str = "include = [\"services.d/*.toml\"]\n\
    [collector]\ndatabase = \"sqlite://x.db\"\n[agents]\nenrollment_token = \"t\"\n\
    [defaults]\ninterval = \"30s\"\n[[equipment]]\nid = \"e\"\n";

/// A temp dir holding `picket.toml` (`main`) and `services.d/NAME` for
/// each of `files`.
fn layout(main: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("services.d")).expect("services.d");
    for (name, text) in files {
        std::fs::write(dir.path().join("services.d").join(name), text).expect("write");
    }
    let path = dir.path().join("picket.toml");
    std::fs::write(&path, main).expect("write");
    (dir, path)
}

fn service(id: &str, equipment: &str) -> String {
    format!(
        "[[services]]\nid = \"{id}\"\nequipment = \"{equipment}\"\nurl = \"http://{id}.test\"\n"
    )
}

#[test]
fn included_files_add_services_and_equipment_in_sorted_order() {
    let b = format!("[[equipment]]\nid = \"f\"\n{}", service("b", "f"));
    let a = format!("{}{}", service("a1", "e"), service("a2", "e"));
    let (_dir, path) = layout(
        MAIN,
        &[
            ("20-b.toml", &b),
            ("10-a.toml", &a),
            ("notes.txt", "not toml"),
        ],
    );
    let c = load(&path).expect("valid");
    let ids: Vec<&str> = c.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "b"]);
    let equipment: Vec<&str> = c.equipment.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(equipment, ["e", "f"]);
    assert_eq!(
        c.services[0].check.interval_ms, 30_000,
        "an included service inherits the main file's [defaults]"
    );
}

#[test]
fn an_empty_services_d_is_fine_and_a_missing_one_is_an_error() {
    let (dir, path) = layout(MAIN, &[]);
    assert!(load(&path).expect("empty dir").services.is_empty());
    std::fs::remove_dir(dir.path().join("services.d")).expect("rm");
    let e = load(&path).expect_err("missing dir").to_string();
    let at = format!(
        "{}:1: include \"services.d/*.toml\": cannot read ",
        path.display()
    );
    assert!(e.starts_with(&at), "{e}");
}

#[test]
fn a_service_id_defined_in_two_files_names_both_places() {
    let a = format!("{}{}", service("x", "e"), service("dup", "e"));
    let b = format!("# one comment\n{}", service("dup", "e"));
    let (dir, path) = layout(MAIN, &[("a.toml", &a), ("b.toml", &b)]);
    let d = dir.path().join("services.d");
    assert_eq!(
        load(&path).expect_err("duplicate").to_string(),
        format!(
            "{}:3: service id \"dup\" is defined twice (first at {}:6)",
            d.join("b.toml").display(),
            d.join("a.toml").display()
        )
    );
}

#[test]
fn a_bad_included_file_is_reported_at_its_own_line() {
    let bad_url = format!(
        "{}[[services]]\nid = \"y\"\nequipment = \"e\"\nurl = \"ftp://y\"\n",
        service("x", "e")
    );
    let (dir, path) = layout(MAIN, &[("a.toml", &bad_url)]);
    let a = dir.path().join("services.d").join("a.toml");
    let e = load(&path).expect_err("bad url").to_string();
    assert_eq!(
        e,
        format!(
            "{}:8: url: invalid URL \"ftp://y\": the scheme must be http or https",
            a.display()
        )
    );
    // Only equipment and services belong in an included file.
    std::fs::write(
        &a,
        "[[services]]\nid = \"z\"\nequipment = \"e\"\nurl = \"http://z\"\n[collector]\n",
    )
    .expect("write");
    let e = load(&path).expect_err("a section").to_string();
    assert!(
        e.starts_with(&format!("{}:5: unknown field `collector`", a.display())),
        "{e}"
    );
    // Equipment defined in a later file is not yet known.
    std::fs::write(&a, service("z", "later")).expect("write");
    let e = load(&path).expect_err("unknown equipment").to_string();
    assert!(
        e.starts_with(&format!(
            "{}:3: service \"z\": unknown equipment",
            a.display()
        )),
        "{e}"
    );
}

#[test]
fn only_the_file_name_may_hold_a_star() {
    let main = MAIN.replace("services.d/*.toml", "*/x.toml");
    let (_dir, path) = layout(&main, &[]);
    let e = load(&path).expect_err("star in dir").to_string();
    assert!(
        e.ends_with(":1: include \"*/x.toml\": only the file name may hold '*'"),
        "{e}"
    );
}

/// `n` files `00.toml`…, each with services `sNN-a` and `sNN-b` on `e`.
fn many_files(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let text = format!(
                "{}{}",
                service(&format!("s{i:02}-a"), "e"),
                service(&format!("s{i:02}-b"), "e")
            );
            (format!("{i:02}.toml"), text)
        })
        .collect()
}

fn layout_many(files: &[(String, String)]) -> (tempfile::TempDir, PathBuf) {
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    layout(MAIN, &refs)
}

#[test]
fn files_read_on_several_threads_keep_the_file_order() {
    // More files than one round of parallel reading holds.
    let files = many_files(41);
    let (_dir, path) = layout_many(&files);
    let c = load(&path).expect("valid");
    let want: Vec<String> = (0..41)
        .flat_map(|i| [format!("s{i:02}-a"), format!("s{i:02}-b")])
        .collect();
    let ids: Vec<&str> = c.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, want);
}

#[test]
fn the_first_problem_in_reading_order_wins_over_later_files_checked_in_parallel() {
    let bad_url =
        |id: &str| format!("[[services]]\nid = \"{id}\"\nequipment = \"e\"\nurl = \"ftp://x\"\n");
    let mut files = many_files(30);
    // File 03: an unknown equipment (a rule across files); files 04 and
    // 29: a bad URL (checked on a worker thread, maybe before 03).
    files[3].1 = service("s03-a", "nowhere");
    files[4].1 = bad_url("s04-a");
    files[29].1 = bad_url("s29-a");
    let (dir, path) = layout_many(&files);
    let d = dir.path().join("services.d");
    let e = load(&path).expect_err("unknown equipment").to_string();
    assert!(
        e.starts_with(&format!(
            "{}:3: service \"s03-a\": unknown equipment",
            d.join("03.toml").display()
        )),
        "{e}"
    );
    // Within a file too: a bad URL before a duplicate id is the one reported…
    files[3].1 = format!("{}{}", bad_url("s03-a"), service("s00-a", "e"));
    std::fs::write(d.join("03.toml"), &files[3].1).expect("write");
    let e = load(&path).expect_err("bad url").to_string();
    assert!(
        e.starts_with(&format!(
            "{}:4: url: invalid URL",
            d.join("03.toml").display()
        )),
        "{e}"
    );
    // …and a duplicate id before a bad URL.
    files[3].1 = format!("{}{}", service("s00-a", "e"), bad_url("s03-b"));
    std::fs::write(d.join("03.toml"), &files[3].1).expect("write");
    let e = load(&path).expect_err("duplicate").to_string();
    assert!(
        e.starts_with(&format!(
            "{}:2: service id \"s00-a\" is defined twice",
            d.join("03.toml").display()
        )),
        "{e}"
    );
}
