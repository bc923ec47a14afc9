//! apply_patch on real files in temp dirs: the Codex conformance scenarios,
//! lenient matching, atomicity (checks before writes, rollback after a
//! failed write), sandbox refusals, and the tool handler's items.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codeloop_core::agent::HeadlessHost;
use codeloop_core::protocol::{
    ApprovalPolicy, FileUpdateChange, ItemDetails, PatchChangeKind, PatchStatus, SandboxMode,
    ThreadEvent, ToolSpec,
};
use codeloop_core::sandbox::SandboxPolicy;
use codeloop_core::tools::apply_patch::{
    apply_patch, extract_from_shell, freeform_spec, function_spec, handle, PatchError,
};
use codeloop_core::tools::{EventSink, ToolCall, ToolContext, ToolPayload};
use codeloop_core::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------- helpers

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File(Vec<u8>),
    Link(PathBuf),
}

/// Every entry under `root` (directories too, so empty ones count), by
/// relative path. A missing root is an empty tree.
fn tree(root: &Path) -> BTreeMap<String, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                out.insert(rel, Node::Link(fs::read_link(&path).unwrap()));
            } else if meta.is_dir() {
                out.insert(rel, Node::Dir);
                walk(root, &path, out);
            } else {
                out.insert(rel, Node::File(fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, node) in tree(from) {
        let dest = to.join(rel);
        match node {
            Node::Dir => fs::create_dir_all(&dest).unwrap(),
            Node::File(bytes) => fs::write(&dest, bytes).unwrap(),
            Node::Link(target) => std::os::unix::fs::symlink(target, &dest).unwrap(),
        }
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap()
}

fn allow_all(_: &Path) -> codeloop_core::Result<()> {
    Ok(())
}

fn patch(body: &str) -> String {
    format!("*** Begin Patch\n{body}*** End Patch\n")
}

/// A readable diff of two trees for assertion messages.
fn tree_diff(actual: &BTreeMap<String, Node>, expected: &BTreeMap<String, Node>) -> String {
    let show = |n: &Node| match n {
        Node::Dir => "<dir>".to_string(),
        Node::File(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Node::Link(t) => format!("-> {}", t.display()),
    };
    let mut out = String::new();
    for (path, node) in expected {
        match actual.get(path) {
            None => out.push_str(&format!("  missing {path}: {}\n", show(node))),
            Some(a) if a != node => out.push_str(&format!(
                "  differs {path}: got {}, want {}\n",
                show(a),
                show(node)
            )),
            _ => {}
        }
    }
    for (path, node) in actual {
        if !expected.contains_key(path) {
            out.push_str(&format!("  extra   {path}: {}\n", show(node)));
        }
    }
    out
}

// ------------------------------------------------------ conformance suite

/// The shared scenario suite: `shared/` beside the repository root, or
/// `$CODELOOP_SHARED_DIR`. Missing is a failure, never a skip: a suite that
/// silently stops running proves nothing.
fn conformance_dir() -> PathBuf {
    let beside_repo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/apply_patch");
    if beside_repo.is_dir() {
        return beside_repo;
    }
    if let Some(shared) = std::env::var_os("CODELOOP_SHARED_DIR") {
        let dir = PathBuf::from(shared).join("conformance/apply_patch");
        if dir.is_dir() {
            return dir;
        }
        panic!(
            "CODELOOP_SHARED_DIR is set but {} does not exist",
            dir.display()
        );
    }
    panic!(
        "the apply_patch conformance suite was not found at {}; clone `shared/` beside the \
         repository or set CODELOOP_SHARED_DIR",
        beside_repo.display()
    );
}

/// Scenarios that must report an error (the tree must still match).
fn expects_error(name: &str) -> bool {
    ["rejects", "fails", "failure", "requires_existing"]
        .iter()
        .any(|w| name.contains(w))
}

#[test]
fn conformance_scenarios() {
    let suite = conformance_dir();
    let mut scenarios: Vec<PathBuf> = fs::read_dir(&suite)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("patch.txt").is_file())
        .collect();
    scenarios.sort();
    assert!(
        scenarios.len() >= 20,
        "expected the whole suite in {}, found {} scenarios",
        suite.display(),
        scenarios.len()
    );

    let mut failures = Vec::new();
    for scenario in &scenarios {
        let name = scenario.file_name().unwrap().to_string_lossy().into_owned();
        let work = tempfile::tempdir().unwrap();
        copy_tree(&scenario.join("input"), work.path());
        let text = fs::read_to_string(scenario.join("patch.txt")).unwrap();
        let result = apply_patch(&text, work.path(), &allow_all);

        // codeloop is atomic: a failing patch leaves the input as it was,
        // where Codex keeps the hunks before the failure.
        let atomic_difference = name.starts_with("015_");
        let expected_dir = if atomic_difference {
            "input"
        } else {
            "expected"
        };
        let expected = tree(&scenario.join(expected_dir));
        let actual = tree(work.path());
        if actual != expected {
            failures.push(format!(
                "{name}: tree differs from {expected_dir}/ (result: {result:?})\n{}",
                tree_diff(&actual, &expected)
            ));
        }
        match (&result, expects_error(&name)) {
            (Ok(applied), true) => failures.push(format!(
                "{name}: expected an error, the patch applied: {:?}",
                applied.summary
            )),
            (Err(e), false) => failures.push(format!("{name}: expected success, got: {e}")),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
}

#[test]
fn conformance_errors_are_precise() {
    let suite = conformance_dir();
    let run = |name: &str| {
        let work = tempfile::tempdir().unwrap();
        copy_tree(&suite.join(name).join("input"), work.path());
        let text = fs::read_to_string(suite.join(name).join("patch.txt")).unwrap();
        apply_patch(&text, work.path(), &allow_all)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        run("013_rejects_invalid_hunk_header"),
        "invalid hunk at line 2: '*** Frobnicate File: foo' is not a valid hunk header; \
         expected '*** Add File: ', '*** Delete File: ' or '*** Update File: '"
    );
    assert!(run("005_rejects_empty_patch")
        .starts_with("invalid patch: the patch has no file operations"));
    assert_eq!(
        run("006_rejects_missing_context"),
        "patch does not apply at line 3: failed to find the expected lines in modify.txt:\nmissing"
    );
    assert_eq!(
        run("007_rejects_missing_file_delete"),
        "patch does not apply at line 2: cannot delete missing.txt: the file does not exist"
    );
    assert!(run("008_rejects_empty_update_hunk")
        .starts_with("invalid hunk at line 2: the update of 'foo.txt' has no changes"));
    assert_eq!(
        run("012_delete_directory_fails"),
        "patch does not apply at line 2: cannot delete dir: it is a directory; apply_patch only \
         deletes files"
    );
    assert_eq!(
        run("015_failure_after_partial_success_leaves_changes"),
        "patch does not apply at line 4: cannot update missing.txt: the file does not exist"
    );
}

// ------------------------------------------------------- focused behaviour

#[test]
fn summary_and_changes_follow_codex() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "upd.txt", "a\n");
    write(dir.path(), "src.txt", "s\n");
    write(dir.path(), "gone.txt", "g\n");
    let text = patch(
        "*** Delete File: gone.txt\n*** Update File: src.txt\n*** Move to: dst/moved.txt\n@@\n-s\n+t\n\
         *** Add File: new.txt\n+n\n*** Update File: upd.txt\n@@\n-a\n+b\n",
    );
    let applied = apply_patch(&text, dir.path(), &allow_all).unwrap();
    assert_eq!(
        applied.summary,
        "Success. Updated the following files:\nA new.txt\nM dst/moved.txt\nM upd.txt\nD gone.txt\n"
    );
    let abs = |rel: &str| dir.path().join(rel).display().to_string();
    assert_eq!(
        applied.changes,
        vec![
            FileUpdateChange {
                path: abs("gone.txt"),
                kind: PatchChangeKind::Delete
            },
            FileUpdateChange {
                path: abs("src.txt"),
                kind: PatchChangeKind::Update
            },
            FileUpdateChange {
                path: abs("new.txt"),
                kind: PatchChangeKind::Add
            },
            FileUpdateChange {
                path: abs("upd.txt"),
                kind: PatchChangeKind::Update
            },
        ]
    );
    assert_eq!(read(dir.path(), "dst/moved.txt"), "t\n");
    assert!(!dir.path().join("src.txt").exists());
    assert!(!dir.path().join("gone.txt").exists());
    assert_eq!(read(dir.path(), "new.txt"), "n\n");
    assert_eq!(read(dir.path(), "upd.txt"), "b\n");
}

#[test]
fn lenient_matching_tries_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // (file, patch context line, what the level forgives)
        ("exact", "keep\n", " keep"),
        ("trailing", "keep   \n", " keep"),
        ("trimmed", "        keep\n", " keep"),
        (
            "unicode",
            "say “hi” — it’s\u{a0}fine\n",
            " say \"hi\" - it's fine",
        ),
    ];
    for (name, original, context) in cases {
        let rel = format!("{name}.txt");
        write(dir.path(), &rel, &format!("{original}old\n"));
        let text = patch(&format!(
            "*** Update File: {rel}\n@@\n{context}\n-old\n+new\n"
        ));
        apply_patch(&text, dir.path(), &allow_all).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Context lines are kept as the file had them.
        assert_eq!(read(dir.path(), &rel), format!("{original}new\n"), "{name}");
    }
}

#[test]
fn context_header_then_end_of_file_anchor() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "f.py",
        "def a():\n    x = 1\n\ndef b():\n    x = 1\n    return x\nx = 1\n",
    );
    let text = patch(
        "*** Update File: f.py\n@@ def b():\n-    x = 1\n+    x = 2\n@@\n-x = 1\n+x = 3\n*** End of File\n",
    );
    apply_patch(&text, dir.path(), &allow_all).unwrap();
    assert_eq!(
        read(dir.path(), "f.py"),
        "def a():\n    x = 1\n\ndef b():\n    x = 2\n    return x\nx = 3\n"
    );
}

#[test]
fn end_of_file_prefers_the_last_occurrence() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.txt", "tail\nmiddle\ntail\n");
    apply_patch(
        &patch("*** Update File: f.txt\n@@\n-tail\n+end\n*** End of File\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap();
    assert_eq!(read(dir.path(), "f.txt"), "tail\nmiddle\nend\n");
}

#[test]
fn pure_addition_under_a_context_header_follows_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.rs", "struct A;\nimpl A {\n}\n");
    apply_patch(
        &patch("*** Update File: f.rs\n@@ impl A {\n+    fn new() {}\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap();
    assert_eq!(
        read(dir.path(), "f.rs"),
        "struct A;\nimpl A {\n    fn new() {}\n}\n"
    );
}

#[test]
fn heredoc_wrapped_patches_apply() {
    let dir = tempfile::tempdir().unwrap();
    let inner = patch("*** Add File: a.txt\n+from heredoc\n");
    for (i, opener) in ["<<'EOF'", "apply_patch <<'EOF'", "applypatch <<\"EOF\""]
        .iter()
        .enumerate()
    {
        let text = format!(
            "{opener}\n{}EOF\n",
            inner.replace("a.txt", &format!("a{i}.txt"))
        );
        apply_patch(&text, dir.path(), &allow_all).unwrap_or_else(|e| panic!("{opener}: {e}"));
        assert_eq!(read(dir.path(), &format!("a{i}.txt")), "from heredoc\n");
    }

    let argv: Vec<String> = ["bash", "-lc", &format!("apply_patch <<'EOF'\n{inner}EOF\n")]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let extracted = extract_from_shell(&argv).unwrap();
    assert_eq!(extracted, inner);
    apply_patch(&extracted, dir.path(), &allow_all).unwrap();
    assert_eq!(read(dir.path(), "a.txt"), "from heredoc\n");
}

#[test]
fn moves_create_parents_and_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old/a.txt", "one\ntwo\n");
    write(dir.path(), "taken.txt", "existing\n");
    write(dir.path(), "b.txt", "bee\n");
    let text = patch(
        "*** Update File: old/a.txt\n*** Move to: deep/er/a.txt\n@@\n one\n-two\n+2\n\
         *** Update File: b.txt\n*** Move to: taken.txt\n*** Update File: deep/er/a.txt\n@@\n-one\n+1\n",
    );
    let applied = apply_patch(&text, dir.path(), &allow_all).unwrap();
    assert_eq!(
        applied.summary,
        "Success. Updated the following files:\nM deep/er/a.txt\nM taken.txt\nM deep/er/a.txt\n"
    );
    assert_eq!(read(dir.path(), "deep/er/a.txt"), "1\n2\n");
    assert_eq!(read(dir.path(), "taken.txt"), "bee\n");
    assert!(!dir.path().join("old/a.txt").exists());
    assert!(!dir.path().join("b.txt").exists());
}

#[test]
fn paths_with_dot_segments_and_absolute_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "sub/f.txt", "x\n");
    let abs = dir.path().join("abs.txt");
    let text = patch(&format!(
        "*** Update File: sub/../sub/./f.txt\n@@\n-x\n+y\n*** Add File: {}\n+abs\n",
        abs.display()
    ));
    apply_patch(&text, dir.path(), &allow_all).unwrap();
    assert_eq!(read(dir.path(), "sub/f.txt"), "y\n");
    assert_eq!(read(dir.path(), "abs.txt"), "abs\n");
}

#[test]
fn later_hunks_see_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = patch(
        "*** Add File: f.txt\n+a\n+b\n*** Update File: f.txt\n@@\n-b\n+c\n*** Update File: f.txt\n@@\n+d\n",
    );
    apply_patch(&text, dir.path(), &allow_all).unwrap();
    assert_eq!(read(dir.path(), "f.txt"), "a\nc\nd\n");

    let err = apply_patch(
        &patch("*** Delete File: f.txt\n*** Update File: f.txt\n@@\n-a\n+x\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("an earlier hunk of this patch deletes or moves it"),
        "{err}"
    );
    assert_eq!(read(dir.path(), "f.txt"), "a\nc\nd\n");
}

#[test]
fn binary_files_can_be_deleted_but_not_updated() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("blob.bin"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    fs::write(dir.path().join("other.bin"), [0xff, 0x00]).unwrap();
    let err = apply_patch(
        &patch("*** Update File: other.bin\n@@\n-x\n+y\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap_err();
    assert!(err.to_string().contains("it is not UTF-8 text"), "{err}");
    apply_patch(
        &patch("*** Delete File: blob.bin\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap();
    assert!(!dir.path().join("blob.bin").exists());
    assert_eq!(
        fs::read(dir.path().join("other.bin")).unwrap(),
        [0xff, 0x00]
    );
}

#[test]
fn symlinks_are_written_through_and_deleted_as_links() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "real.txt", "a\n");
    std::os::unix::fs::symlink("real.txt", dir.path().join("link.txt")).unwrap();
    std::os::unix::fs::symlink("real.txt", dir.path().join("link2.txt")).unwrap();
    apply_patch(
        &patch("*** Update File: link.txt\n@@\n-a\n+b\n*** Delete File: link2.txt\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap();
    assert_eq!(read(dir.path(), "real.txt"), "b\n");

    // Deleting a link and adding the path again makes a file, not a write
    // through the (deleted) link.
    std::os::unix::fs::symlink("real.txt", dir.path().join("link3.txt")).unwrap();
    apply_patch(
        &patch("*** Delete File: link3.txt\n*** Add File: link3.txt\n+own\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap();
    assert!(fs::symlink_metadata(dir.path().join("link3.txt"))
        .unwrap()
        .is_file());
    assert_eq!(read(dir.path(), "link3.txt"), "own\n");
    assert_eq!(read(dir.path(), "real.txt"), "b\n");

    // Hunks apply in order: the write through the link lands before the
    // link goes.
    std::os::unix::fs::symlink("real.txt", dir.path().join("link5.txt")).unwrap();
    apply_patch(
        &patch("*** Update File: link5.txt\n@@\n-b\n+b2\n*** Delete File: link5.txt\n"),
        dir.path(),
        &allow_all,
    )
    .unwrap();
    assert_eq!(read(dir.path(), "real.txt"), "b2\n");
    assert!(fs::symlink_metadata(dir.path().join("link5.txt")).is_err());

    // Rolled back: a write through a link, then the link's deletion.
    std::os::unix::fs::symlink("real.txt", dir.path().join("link4.txt")).unwrap();
    let before = tree(dir.path());
    let err = apply_patch(
        &patch(&format!(
            "*** Update File: link4.txt\n@@\n-b2\n+c\n*** Delete File: link4.txt\n\
             *** Add File: fresh/{}/x\n+x\n",
            "n".repeat(300)
        )),
        dir.path(),
        &allow_all,
    )
    .unwrap_err();
    assert!(matches!(err, PatchError::WriteFailed { .. }), "{err:?}");
    assert_eq!(tree(dir.path()), before);
    assert!(fs::symlink_metadata(dir.path().join("link.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::symlink_metadata(dir.path().join("link2.txt")).is_err());
}

#[test]
fn errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "f.txt", "a\nb\n");
    let err = |text: &str| {
        apply_patch(text, dir.path(), &allow_all)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("*** Begin Patch\n*** Update File: f.txt\n@@\n a\nb\n*** End Patch"),
        "invalid hunk at line 5: 'b' is not a valid change line; every line of an update chunk \
         starts with ' ' (context), '-' (removed) or '+' (added)"
    );
    assert_eq!(
        err("*** Begin Patch\n*** Update File: f.txt\n@@\n-a\n+A\n@@ nowhere\n-b\n*** End Patch"),
        "patch does not apply at line 6: failed to find the context line 'nowhere' in f.txt"
    );
    assert_eq!(
        err("*** Begin Patch\n*** Update File: f.txt\n@@\n-a\n"),
        "invalid patch: line 4 is '-a'; the last line of a patch must be '*** End Patch'"
    );
    assert_eq!(
        err("--- a/f.txt\n+++ b/f.txt\n"),
        "invalid patch: line 1 is '--- a/f.txt'; the first line of a patch must be '*** Begin Patch'"
    );
    // Nothing changed by any of them.
    assert_eq!(read(dir.path(), "f.txt"), "a\nb\n");
}

// ------------------------------------------------------------- atomicity

#[test]
fn failing_hunk_leaves_every_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "a\n");
    write(dir.path(), "b.txt", "b\n");
    let before = tree(dir.path());
    let text = patch(
        "*** Add File: new/c.txt\n+c\n*** Update File: a.txt\n@@\n-a\n+A\n*** Delete File: b.txt\n\
         *** Update File: b.txt\n@@\n-nope\n+x\n",
    );
    apply_patch(&text, dir.path(), &allow_all).unwrap_err();
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn write_below_a_regular_file_fails_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "a\n");
    write(dir.path(), "blocker", "i am a file\n");
    let before = tree(dir.path());
    let text = patch("*** Update File: a.txt\n@@\n-a\n+A\n*** Add File: blocker/x.txt\n+x\n");
    let err = apply_patch(&text, dir.path(), &allow_all).unwrap_err();
    assert!(matches!(err, PatchError::Mismatch { line: 6, .. }), "{err}");
    assert!(
        err.to_string().contains("is a file, not a directory"),
        "{err}"
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn write_failing_midway_is_rolled_back() {
    // Root ignores permission bits, so the failure must be one the OS
    // raises for everyone: a name longer than any file system allows. Put
    // below a directory that does not exist yet, it passes every check
    // (the lookup stops at the missing parent), and fails only when the
    // directories are created: after the deletion, the update, the
    // overwrite, the added file and the first new directory are done.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "del.txt", "delete me\n");
    write(dir.path(), "upd.txt", "old\n");
    write(dir.path(), "over.txt", "overwritten\n");
    fs::set_permissions(
        dir.path().join("del.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let before = tree(dir.path());
    let long_name = "x".repeat(300);
    let text = patch(&format!(
        "*** Delete File: del.txt\n*** Update File: upd.txt\n@@\n-old\n+new\n\
         *** Add File: over.txt\n+replaced\n*** Add File: added.txt\n+added\n\
         *** Add File: fresh/{long_name}/x.txt\n+never\n"
    ));
    let err = apply_patch(&text, dir.path(), &allow_all).unwrap_err();
    assert!(matches!(err, PatchError::WriteFailed { .. }), "{err:?}");
    assert!(err.tree_untouched());
    assert!(
        err.to_string()
            .contains("the files already written were restored"),
        "{err}"
    );
    assert_eq!(
        tree(dir.path()),
        before,
        "{}",
        tree_diff(&tree(dir.path()), &before)
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(dir.path().join("del.txt"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn refused_write_leaves_the_tree_untouched() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "a\n");
    let before = tree(dir.path());
    let refuse_secret = |path: &Path| -> codeloop_core::Result<()> {
        if path.ends_with("secret.txt") {
            Err(Error::Sandbox(format!(
                "cannot write {}: not allowed",
                path.display()
            )))
        } else {
            Ok(())
        }
    };
    let text = patch("*** Update File: a.txt\n@@\n-a\n+A\n*** Add File: secret.txt\n+s\n");
    let err = apply_patch(&text, dir.path(), &refuse_secret).unwrap_err();
    assert!(
        matches!(&err, PatchError::Refused { path, .. } if path == "secret.txt"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("refused to write secret.txt: sandbox: cannot write"),
        "{err}"
    );
    assert_eq!(tree(dir.path()), before);

    // A move's destination is checked as well as its source.
    let text = patch("*** Update File: a.txt\n*** Move to: secret.txt\n");
    assert!(matches!(
        apply_patch(&text, dir.path(), &refuse_secret),
        Err(PatchError::Refused { .. })
    ));
    assert_eq!(tree(dir.path()), before);
}

// -------------------------------------------------------------- the tool

fn context(
    cwd: &Path,
    sandbox: SandboxPolicy,
) -> (ToolContext, mpsc::UnboundedReceiver<ThreadEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let ctx = ToolContext {
        thread_id: "thread-test".into(),
        cwd: cwd.to_path_buf(),
        sandbox,
        approval_policy: ApprovalPolicy::Never,
        env_policy: Default::default(),
        approvals: Default::default(),
        command_timeout: Duration::from_secs(10),
        host: Arc::new(HeadlessHost),
        cancel: CancellationToken::new(),
        events: EventSink::new(tx, Arc::new(AtomicU64::new(0))),
        plan_item: Arc::new(Mutex::new(None)),
        hooks: Default::default(),
    };
    (ctx, rx)
}

fn freeform(input: &str) -> ToolCall {
    ToolCall {
        call_id: "call_1".into(),
        name: "apply_patch".into(),
        payload: ToolPayload::Custom {
            input: input.into(),
        },
    }
}

fn function(arguments: &str) -> ToolCall {
    ToolCall {
        call_id: "call_1".into(),
        name: "apply_patch".into(),
        payload: ToolPayload::Function {
            arguments: arguments.into(),
        },
    }
}

/// The `file_change` items emitted, as (event, status, changes).
fn file_changes(
    rx: &mut mpsc::UnboundedReceiver<ThreadEvent>,
) -> Vec<(&'static str, PatchStatus, Vec<FileUpdateChange>)> {
    let mut out = Vec::new();
    while let Ok(event) = rx.try_recv() {
        let (kind, item) = match event {
            ThreadEvent::ItemStarted { item } => ("started", item),
            ThreadEvent::ItemCompleted { item } => ("completed", item),
            other => panic!("unexpected event {other:?}"),
        };
        let ItemDetails::FileChange { changes, status } = item.details else {
            panic!("not a file_change item: {item:?}");
        };
        assert_eq!(item.id, "item_0");
        out.push((kind, status, changes));
    }
    out
}

#[tokio::test]
async fn tool_applies_freeform_and_function_calls() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, mut rx) = context(
        dir.path(),
        SandboxPolicy::new(SandboxMode::WorkspaceWrite, dir.path(), &[], false),
    );

    let output = handle(&ctx, &freeform(&patch("*** Add File: hello.txt\n+hi\n"))).await;
    assert!(output.success, "{}", output.content);
    assert_eq!(
        output.content,
        "Success. Updated the following files:\nA hello.txt\n"
    );
    let change = FileUpdateChange {
        path: dir.path().join("hello.txt").display().to_string(),
        kind: PatchChangeKind::Add,
    };
    assert_eq!(
        file_changes(&mut rx),
        vec![
            ("started", PatchStatus::InProgress, vec![change.clone()]),
            ("completed", PatchStatus::Completed, vec![change]),
        ]
    );

    let args =
        serde_json::json!({ "input": patch("*** Update File: hello.txt\n@@\n-hi\n+hello\n") });
    let output = handle(&ctx, &function(&args.to_string())).await;
    assert!(output.success, "{}", output.content);
    assert_eq!(
        output.content,
        "Success. Updated the following files:\nM hello.txt\n"
    );
    assert_eq!(read(dir.path(), "hello.txt"), "hello\n");
}

#[tokio::test]
async fn tool_reports_bad_input_without_an_item() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, mut rx) = context(dir.path(), SandboxPolicy::full_access());

    let output = handle(&ctx, &function("{\"input\": ")).await;
    assert!(!output.success);
    assert!(
        output
            .content
            .contains("invalid arguments for tool `apply_patch`"),
        "{}",
        output.content
    );

    let output = handle(&ctx, &function("{\"patch\": \"x\"}")).await;
    assert!(!output.success);
    assert!(
        output.content.contains("missing field `input`"),
        "{}",
        output.content
    );

    let output = handle(
        &ctx,
        &freeform("*** Begin Patch\n*** Nonsense\n*** End Patch"),
    )
    .await;
    assert!(!output.success);
    assert!(
        output
            .content
            .starts_with("invalid hunk at line 2: '*** Nonsense'"),
        "{}",
        output.content
    );
    assert!(output
        .content
        .ends_with("The patch was not applied; no file was changed."));

    assert!(file_changes(&mut rx).is_empty());
    assert!(tree(dir.path()).is_empty());
}

#[tokio::test]
async fn tool_respects_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "a\n");
    let before = tree(dir.path());

    let (ctx, mut rx) = context(
        dir.path(),
        SandboxPolicy::new(SandboxMode::ReadOnly, dir.path(), &[], false),
    );
    let output = handle(
        &ctx,
        &freeform(&patch("*** Update File: a.txt\n@@\n-a\n+b\n")),
    )
    .await;
    assert!(!output.success);
    assert!(
        output.content.contains("refused to write a.txt"),
        "{}",
        output.content
    );
    assert!(output.content.contains("read-only"), "{}", output.content);
    let items = file_changes(&mut rx);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].1, PatchStatus::InProgress);
    assert_eq!(items[1].1, PatchStatus::Failed);
    assert_eq!(tree(dir.path()), before);

    // workspace-write keeps .git read-only even inside the cwd.
    let (ctx, mut rx) = context(
        dir.path(),
        SandboxPolicy::new(SandboxMode::WorkspaceWrite, dir.path(), &[], false),
    );
    let text =
        patch("*** Update File: a.txt\n@@\n-a\n+b\n*** Add File: .git/hooks/pre-commit\n+evil\n");
    let output = handle(&ctx, &freeform(&text)).await;
    assert!(!output.success);
    assert!(
        output
            .content
            .contains("refused to write .git/hooks/pre-commit"),
        "{}",
        output.content
    );
    assert_eq!(file_changes(&mut rx)[1].1, PatchStatus::Failed);
    assert_eq!(tree(dir.path()), before);
}

#[tokio::test]
async fn tool_refuses_protected_dirs_at_any_depth() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pkg/lib.rs", "fn f() {}\n");
    let before = tree(dir.path());
    let (ctx, mut rx) = context(
        dir.path(),
        SandboxPolicy::new(SandboxMode::WorkspaceWrite, dir.path(), &[], false),
    );
    // A nested `.codeloop` would be a deeper (trusted) project layer.
    let text = patch(
        "*** Add File: pkg/ok.txt\n+fine\n*** Add File: pkg/.codeloop/config.toml\n+sandbox_mode = \"danger-full-access\"\n",
    );
    let output = handle(&ctx, &freeform(&text)).await;
    assert!(!output.success);
    assert!(
        output
            .content
            .contains("refused to write pkg/.codeloop/config.toml")
            && output.content.contains(".codeloop stays read-only"),
        "{}",
        output.content
    );
    assert_eq!(file_changes(&mut rx)[1].1, PatchStatus::Failed);
    assert_eq!(tree(dir.path()), before);
    assert!(!dir.path().join("pkg/.codeloop").exists());

    for nested in [
        "a/.agents/skills/x/SKILL.md",
        "b/.codex/config.toml",
        "c/.git/HEAD",
    ] {
        let output = handle(
            &ctx,
            &freeform(&patch(&format!("*** Add File: {nested}\n+x\n"))),
        )
        .await;
        assert!(!output.success, "{nested}: {}", output.content);
        assert!(
            output.content.contains("stays read-only"),
            "{}",
            output.content
        );
    }
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn tool_specs_match_codex() {
    let ToolSpec::Custom {
        name,
        description,
        format,
    } = freeform_spec()
    else {
        panic!("freeform_spec is not a custom tool");
    };
    assert_eq!(name, "apply_patch");
    assert!(description.contains("FREEFORM"));
    assert_eq!(format["type"], "grammar");
    assert_eq!(format["syntax"], "lark");
    let grammar = format["definition"].as_str().unwrap();
    assert!(grammar.starts_with("start: begin_patch hunk+ end_patch\n"));
    assert!(grammar.contains("eof_line: \"*** End of File\" LF"));

    let ToolSpec::Function {
        name,
        description,
        strict,
        parameters,
    } = function_spec()
    else {
        panic!("function_spec is not a function tool");
    };
    assert_eq!(name, "apply_patch");
    assert!(!strict);
    assert!(description.starts_with("Use the `apply_patch` tool to edit files."));
    assert_eq!(parameters["required"], serde_json::json!(["input"]));
    assert_eq!(parameters["additionalProperties"], false);
    assert_eq!(parameters["properties"]["input"]["type"], "string");
}
