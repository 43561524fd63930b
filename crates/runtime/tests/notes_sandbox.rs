//! The note store stays inside its directory: `..`, absolute paths, hidden names and symbolic
//! links (to files or folders outside, or inside) are refused; sizes are limited; writes are
//! atomic and notes round-trip.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use agentune_runtime::tools::{
    DeleteNote, ListNotes, NoteStore, ReadNote, Tool, ToolError, ToolRegistry, WriteNote,
};
use agentune_schema::ToolCall;
use serde_json::{Value, json};

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn notes_round_trip_with_folders_and_append() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(NoteStore::open(&dir.path().join("notes")).unwrap());
    let write = WriteNote::new(Arc::clone(&store));
    let read = ReadNote::new(Arc::clone(&store));
    let list = ListNotes::new(Arc::clone(&store));
    let delete = DeleteNote::new(Arc::clone(&store));

    write
        .call(&args(
            json!({"name": "trips/杭州 plan.md", "content": "Day 1: West Lake\n"}),
        ))
        .unwrap();
    write
        .call(&args(
            json!({"name": "trips/杭州 plan.md", "content": "Day 2: Lingyin\n", "append": true}),
        ))
        .unwrap();
    write
        .call(&args(json!({"name": "todo.txt", "content": "buy film"})))
        .unwrap();
    let out: Value = serde_json::from_str(
        &read
            .call(&args(json!({"name": "trips/杭州 plan.md"})))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(out["content"], "Day 1: West Lake\nDay 2: Lingyin\n");
    let out: Value = serde_json::from_str(&list.call(&args(json!({}))).unwrap()).unwrap();
    assert_eq!(
        out["notes"],
        json!([
            {"name": "todo.txt", "bytes": 8},
            {"name": "trips/杭州 plan.md", "bytes": "Day 1: West Lake\nDay 2: Lingyin\n".len()}
        ])
    );
    // Replacing (no append) overwrites.
    write
        .call(&args(json!({"name": "todo.txt", "content": "done"})))
        .unwrap();
    assert_eq!(store.read("todo.txt").unwrap(), "done");
    delete.call(&args(json!({"name": "todo.txt"}))).unwrap();
    assert!(matches!(
        store.read("todo.txt"),
        Err(ToolError::NotFound(_))
    ));
    assert!(matches!(
        delete.call(&args(json!({"name": "todo.txt"}))),
        Err(ToolError::NotFound(_))
    ));
    // No temporary files are left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn names_that_leave_the_store_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(&dir.path().join("notes")).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    for (name, why) in [
        ("../secret.txt", "outside the note store"),
        ("a/../../secret.txt", "outside the note store"),
        ("..", "outside the note store"),
        ("/etc/passwd", "absolute path"),
        ("~/notes.txt", "absolute path"),
        ("./x.md", "`.` components"),
        (".hidden", "hidden"),
        ("a/.git/config", "hidden"),
        ("a\\..\\b", "backslash"),
        ("bad\u{0}name", "control characters"),
        ("semi;colon", "may only contain"),
        ("", "empty"),
        ("a/b/c/d/e.md", "deeper than 4"),
    ] {
        let err = store.resolve(name).unwrap_err().to_string();
        assert!(err.contains(why), "{name:?}: {err}");
        assert!(
            store.write(name, "x", false).is_err(),
            "{name:?} was written"
        );
        assert!(store.read(name).is_err(), "{name:?} was read");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secret.txt")).unwrap(),
        "outside"
    );
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_never_followed() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    let store = NoteStore::open(&notes).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "top secret").unwrap();

    // A link to a file outside.
    symlink(outside.join("secret.txt"), notes.join("leak.txt")).unwrap();
    // A link to a folder outside.
    symlink(&outside, notes.join("escape")).unwrap();
    // Even a link to a note inside is refused: links are never followed.
    std::fs::write(notes.join("real.txt"), "inside").unwrap();
    symlink(notes.join("real.txt"), notes.join("alias.txt")).unwrap();

    for name in [
        "leak.txt",
        "escape/secret.txt",
        "escape/new.txt",
        "alias.txt",
    ] {
        let err = store.read(name).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{name}: {err}");
        let err = store
            .write(name, "overwritten", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("symbolic link"), "{name}: {err}");
        assert!(store.delete(name).is_err(), "{name}");
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "top secret"
    );
    assert!(!outside.join("new.txt").exists());
    assert!(
        notes.join("leak.txt").symlink_metadata().is_ok(),
        "the link itself was not removed"
    );
    // Listing skips links.
    let names: Vec<String> = store.list().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["real.txt"]);

    // The store's own directory may be reached through a link: it is resolved once.
    let link_to_store = dir.path().join("notes-link");
    symlink(&notes, &link_to_store).unwrap();
    let via_link = NoteStore::open(&link_to_store).unwrap();
    assert_eq!(via_link.read("real.txt").unwrap(), "inside");
}

#[test]
fn size_limits_hold() {
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(dir.path()).unwrap();
    let big = "x".repeat(agentune_runtime::tools::MAX_NOTE_BYTES + 1);
    let err = store.write("big.txt", &big, false).unwrap_err().to_string();
    assert!(err.contains("more than the limit"), "{err}");
    let half = "y".repeat(agentune_runtime::tools::MAX_NOTE_BYTES / 2 + 1);
    store.write("grow.txt", &half, false).unwrap();
    let err = store
        .write("grow.txt", &half, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than the limit"), "{err}");
    assert_eq!(
        store.read("grow.txt").unwrap().len(),
        half.len(),
        "a refused append changes nothing"
    );

    // The schema limit catches an oversized call before the tool runs.
    let reg = ToolRegistry::builtin(dir.path()).unwrap();
    let call = ToolCall::new(
        "write_note",
        args(json!({"name": "big.txt", "content": big})),
    );
    let obs = reg.execute(&call);
    assert!(obs.is_error);
    assert!(
        obs.content
            .contains("arguments.content: expected at most 65536 characters"),
        "{}",
        obs.content
    );
}

#[test]
fn folders_are_not_notes() {
    let dir = tempfile::tempdir().unwrap();
    let store = NoteStore::open(dir.path()).unwrap();
    store.write("trips/a.md", "a", false).unwrap();
    for err in [
        store.read("trips").unwrap_err(),
        store.write("trips", "x", false).unwrap_err(),
        store.delete("trips").unwrap_err(),
    ] {
        assert!(err.to_string().contains("is a folder"), "{err}");
    }
}
